using System.Net.Http.Headers;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// Rehearsal (README, "Rehearsal: UAT and training"): the trial mode in every reply's header and in the token audience,
/// and the trial clock that an administrator moves forward in UAT and training, never in production. The mode and the
/// clock are the same on every database, so these run on SQLite.
/// </summary>
public sealed class RehearsalTests
{
    private static Dictionary<string, string> Uat(bool clockControl = true, bool trialClock = true, string mode = "Uat")
    {
        var settings = new Dictionary<string, string> { ["Trial:Mode"] = mode, ["Rehearsal:ClockControl"] = clockControl ? "true" : "false" };
        if (trialClock) settings[TrialServer.ClockSetting] = TrialServer.RealTrialClock;
        return settings;
    }

    private static AdvanceTrialClockRequest Advance(TimeSpan by, string reason = "UAT: pass cohort 1's 30-day window") =>
        new() { AdvanceBy = Duration.FromTimeSpan(by), Reason = reason };

    private static string? ReasonOf(RpcException refused) => refused.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason;

    [Fact]
    public async Task Reply_OnSuccessOnRefusalAndWithoutToken_CarriesTheTrialModeHeader()
    {
        await using var uat = new TrialServer(TestDatabase.Sqlite, onLoopback: false, Uat());
        await using var production = new TrialServer(TestDatabase.Sqlite, onLoopback: false);

        var success = uat.As(TrialRole.Monitor).Rehearsal.GetTrialClockAsync(new GetTrialClockRequest());
        var refusal = uat.As(TrialRole.SiteCoordinator, "UM").Rehearsal.AdvanceTrialClockAsync(Advance(TimeSpan.FromDays(1)));
        var anonymous = uat.As(token: null).Rehearsal.GetTrialClockAsync(new GetTrialClockRequest());
        var inProduction = production.As(TrialRole.Administrator).Rehearsal.AdvanceTrialClockAsync(Advance(TimeSpan.FromDays(1)));

        Assert.Equal(Protos.V1.TrialMode.Uat, (await success).Clock.Mode);
        Assert.Equal(StatusCode.PermissionDenied, (await Assert.ThrowsAsync<RpcException>(() => refusal.ResponseAsync)).StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => anonymous.ResponseAsync)).StatusCode);
        await Assert.ThrowsAsync<RpcException>(() => inProduction.ResponseAsync);
        Assert.Equal("uat", (await success.ResponseHeadersAsync).GetValue("cratus-trial-mode"));
        Assert.Equal("uat", (await refusal.ResponseHeadersAsync).GetValue("cratus-trial-mode"));
        Assert.Equal("uat", (await anonymous.ResponseHeadersAsync).GetValue("cratus-trial-mode"));
        Assert.Equal("production", (await inProduction.ResponseHeadersAsync).GetValue("cratus-trial-mode"));

        // REST and pages too.
        using var web = uat.OpenId();
        using var rest = new HttpRequestMessage(HttpMethod.Get, "api/v1/trial");
        rest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", uat.Token(TrialRole.Monitor));
        using var restReply = await web.Http.SendAsync(rest);
        using var page = await web.Http.GetAsync("account/signin");
        Assert.True(restReply.IsSuccessStatusCode, restReply.StatusCode.ToString());
        Assert.Equal("uat", Assert.Single(restReply.Headers.GetValues("cratus-trial-mode")));
        Assert.Equal("uat", Assert.Single(page.Headers.GetValues("cratus-trial-mode")));
    }

    [Fact]
    public async Task Token_ForUatOnProductionAndTheReverse_IsUnauthenticatedForAnotherAudience()
    {
        await using var uat = new TrialServer(TestDatabase.Sqlite, onLoopback: false, Uat());
        await using var production = new TrialServer(TestDatabase.Sqlite, onLoopback: false);
        // Each server's own key, so that only the audience differs.
        var uatTokenOnProduction = production.Token(TrialRole.Monitor, audience: uat.TokenAudience);
        var productionTokenOnUat = uat.Token(TrialRole.Monitor, audience: production.TokenAudience);

        var onProduction = await Assert.ThrowsAsync<RpcException>(() => production.As(uatTokenOnProduction).Trial.GetTrialAsync(new GetTrialRequest()).ResponseAsync);
        var onUat = await Assert.ThrowsAsync<RpcException>(() => uat.As(productionTokenOnUat).Trial.GetTrialAsync(new GetTrialRequest()).ResponseAsync);

        Assert.Equal("cratus-randomization/uat", uat.TokenAudience);
        Assert.Equal("cratus-randomization", production.TokenAudience);
        foreach (var refused in new[] { onProduction, onUat })
        {
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
            Assert.Equal("TOKEN_WRONG_AUDIENCE", ReasonOf(refused));
            Assert.Contains("another service", refused.Status.Detail, StringComparison.Ordinal);
        }
        // Each server's own tokens work, and its built-in sign-in issues them for its own audience.
        Assert.NotNull(await production.As(production.Token(TrialRole.Monitor)).Trial.GetTrialAsync(new GetTrialRequest()));
        uat.EnsureAccount(TrialRole.Monitor, "uat-monitor", []);
        var signedIn = await uat.SignInAsync("uat-monitor", Signing.Password);
        Assert.Equal(["cratus-randomization/uat"], new JsonWebToken(signedIn).Audiences);
        Assert.NotNull(await uat.As(signedIn).Trial.GetTrialAsync(new GetTrialRequest()));
    }

    [Fact]
    public async Task AdvanceTrialClock_InProduction_IsRefusedAndTheClockIsTheRealTime()
    {
        await using var production = new TrialServer(TestDatabase.Sqlite, onLoopback: false,
            new Dictionary<string, string> { [TrialServer.ClockSetting] = TrialServer.RealTrialClock });
        var administrator = production.As(TrialRole.Administrator).Rehearsal;

        var refused = await Assert.ThrowsAsync<RpcException>(() => administrator.AdvanceTrialClockAsync(Advance(TimeSpan.FromDays(30))).ResponseAsync);
        var clock = (await administrator.GetTrialClockAsync(new GetTrialClockRequest())).Clock;

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Equal("PRODUCTION_CLOCK_FIXED", ReasonOf(refused));
        Assert.Contains("production trial", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(Protos.V1.TrialMode.Production, clock.Mode);
        Assert.False(clock.ClockControl);
        Assert.Equal(TimeSpan.Zero, clock.Offset.ToTimeSpan());
        Assert.InRange(clock.TrialTime.ToDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Empty((await production.QueryAsync("SELECT * FROM \"TrialClock\"")));
    }

    [Fact]
    public async Task AdvanceTrialClock_ClockControlOff_IsRefusedNamingTheSetting()
    {
        await using var training = new TrialServer(TestDatabase.Sqlite, onLoopback: false, Uat(clockControl: false, mode: "Training"));

        var refused = await Assert.ThrowsAsync<RpcException>(() => training.As(TrialRole.Administrator).Rehearsal.AdvanceTrialClockAsync(Advance(TimeSpan.FromDays(1))).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Equal("CLOCK_CONTROL_OFF", ReasonOf(refused));
        Assert.Contains("Rehearsal:ClockControl", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("Training", refused.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-86_400L, "only moves forward")]
    [InlineData(0L, "only moves forward")]
    [InlineData(400L * 86_400, "at most 366 days")]
    public async Task AdvanceTrialClock_BackwardsStillOrTooFar_IsInvalidArgumentNamingAdvanceByAndMovesNothing(long seconds, string message)
    {
        await using var uat = new TrialServer(TestDatabase.Sqlite, onLoopback: false, Uat());
        var administrator = uat.As(TrialRole.Administrator).Rehearsal;

        var refused = await Assert.ThrowsAsync<RpcException>(() => administrator.AdvanceTrialClockAsync(
            new AdvanceTrialClockRequest { AdvanceBy = new Duration { Seconds = seconds }, Reason = "typo" }).ResponseAsync);
        var noReason = await Assert.ThrowsAsync<RpcException>(() => administrator.AdvanceTrialClockAsync(Advance(TimeSpan.FromDays(1), reason: " ")).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains(message, refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(["advance_by"], refused.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field));
        Assert.Equal(["reason"], noReason.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field));
        Assert.Equal(TimeSpan.Zero, (await administrator.GetTrialClockAsync(new GetTrialClockRequest())).Clock.Offset.ToTimeSpan());
        Assert.Empty((await uat.QueryAsync("SELECT * FROM \"TrialClock\"")));
    }

    [Fact]
    public async Task AdvanceTrialClock_Forward_IsAuditedSeenByASecondNodeKeptOverARestartAndSignInsStayValid()
    {
        var settings = Uat();
        settings["Rehearsal:ClockRefreshInterval"] = "00:00:01";
        var first = new TrialServer(TestDatabase.Sqlite, onLoopback: false, settings);
        var token = first.Token(TrialRole.Administrator, "uat-admin");
        var administrator = first.As(token).Rehearsal;
        await using var second = new TrialServer(TestDatabase.Sqlite, onLoopback: false, new Dictionary<string, string>(settings) { ["Database:Reuse"] = first.DatabaseLocation });
        var before = DateTimeOffset.UtcNow;

        var moved = await administrator.AdvanceTrialClockAsync(Advance(TimeSpan.FromDays(30)));
        var again = await administrator.AdvanceTrialClockAsync(Advance(TimeSpan.FromHours(12), "UAT: half a day more"));

        Assert.Equal(TimeSpan.Zero, moved.Before.Offset.ToTimeSpan());
        Assert.Equal(TimeSpan.FromDays(30), moved.After.Offset.ToTimeSpan());
        Assert.Equal(TimeSpan.FromDays(30), moved.After.TrialTime.ToDateTimeOffset() - moved.Before.TrialTime.ToDateTimeOffset());
        Assert.InRange(moved.After.TrialTime.ToDateTimeOffset(), before.AddDays(30), DateTimeOffset.UtcNow.AddDays(30));
        Assert.Equal(TimeSpan.FromDays(30.5), again.After.Offset.ToTimeSpan());
        // The same token, signed on the real time, still works after 30 days of trial time.
        var now = (await administrator.GetTrialClockAsync(new GetTrialClockRequest())).Clock;
        Assert.Equal(TimeSpan.FromDays(30.5), now.Offset.ToTimeSpan());
        Assert.InRange(now.TrialTime.ToDateTimeOffset(), before.AddDays(30.5), DateTimeOffset.UtcNow.AddDays(30.5));
        // Audited with the reason and the trial time before and after; the event is stamped on the trial clock.
        var events = (await first.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "trial_clock.advanced" })).Events;
        Assert.Equal(["uat-admin", "uat-admin"], events.Select(e => e.User));
        Assert.Equal("UAT: pass cohort 1's 30-day window", events[0].Reason);
        Assert.Contains($"trial time {moved.Before.TrialTime.ToDateTimeOffset():yyyy-MM-ddTHH:mm:ss}Z -> {moved.After.TrialTime.ToDateTimeOffset():yyyy-MM-ddTHH:mm:ss}Z", events[0].Details, StringComparison.Ordinal);
        Assert.True(events[1].OccurredAt.ToDateTimeOffset() >= before.AddDays(30));
        Assert.True((await first.As(TrialRole.Monitor).Audit.VerifyAuditTrailAsync(new VerifyAuditTrailRequest())).Intact);

        // The second node reads the stored offset within its refresh interval.
        var seen = TimeSpan.Zero;
        for (var i = 0; i < 50 && seen != TimeSpan.FromDays(30.5); i++)
        {
            await Task.Delay(100);
            seen = (await second.As(TrialRole.Monitor).Rehearsal.GetTrialClockAsync(new GetTrialClockRequest())).Clock.Offset.ToTimeSpan();
        }
        Assert.Equal(TimeSpan.FromDays(30.5), seen);

        // And a restart starts on it.
        await first.StopAsync();
        await using var restarted = new TrialServer(TestDatabase.Sqlite, onLoopback: false, new Dictionary<string, string>(settings) { ["Database:Reuse"] = first.DatabaseLocation });
        Assert.Equal(TimeSpan.FromDays(30.5), (await restarted.As(TrialRole.Monitor).Rehearsal.GetTrialClockAsync(new GetTrialClockRequest())).Clock.Offset.ToTimeSpan());
    }
}
