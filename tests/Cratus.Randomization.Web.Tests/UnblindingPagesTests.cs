using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Microsoft.Playwright;
using static Cratus.Randomization.Web.Tests.StatisticianSteps;

namespace Cratus.Randomization.Web.Tests;

[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class UnblindingPagesTests(BrowserFixture browser)
{
    /// <summary>A Phase II trial with a schedule and <paramref name="participants"/> randomized at UM; their participant ids.</summary>
    private static async Task<List<string>> RandomizedAsync(WebTrial trial, int participants)
    {
        await trial.Server.As(TrialRole.Statistician).Schedule.GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "Phase II schedule" });
        var ids = new List<string>();
        for (var i = 1; i <= participants; i++)
            ids.Add((await trial.Server.Site("UM").RandomizeAsync(Requests.Randomize($"S-{i}", i % 2 == 0 ? Sex.Male : Sex.Female))).Assignment.ParticipantId);
        return ids;
    }

    private static string Utc(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    [Fact]
    public async Task Two_statisticians_unblind_one_participant_the_requester_cannot_approve_and_the_report_shows_the_arm_until_expiry()
    {
        await using var trial = new WebTrial();
        var participant = (await RandomizedAsync(trial, 3))[1];

        // Statistician A asks.
        var a = await trial.SignInAsync(browser.Browser, TrialRole.Statistician, "stat-a");
        await a.GotoAsync(trial.Address + "/unblinding");
        await ChooseAsync(a, "request-scope", "One participant");
        await FillAsync(a, "request-participant", participant);
        await FillAsync(a, "request-reason", "suspected unexpected serious adverse reaction");
        await a.GetByTestId("request").ClickAsync();
        var row = a.Locator(".mud-table-body tr").Filter(new() { HasText = participant });
        await row.WaitForAsync();
        Assert.Contains("Pending", await row.GetByTestId("request-status").InnerTextAsync());
        var requestId = (await row.GetByTestId("request-id").InnerTextAsync()).Trim();
        // The requester is not offered the approval; nothing is revealed while it is pending.
        Assert.Equal(0, await a.GetByTestId("approve").CountAsync());
        Assert.Equal(0, await a.GetByTestId("view-report").CountAsync());

        // Statistician B approves, signing.
        var b = await trial.SignInAsync(browser.Browser, TrialRole.Statistician, "stat-b");
        await b.GotoAsync(trial.Address + "/unblinding");
        var rowB = b.Locator(".mud-table-body tr").Filter(new() { HasText = requestId });
        await rowB.GetByTestId("approve").ClickAsync();
        await FillAsync(b, "approval-reason", "agreed: the investigator needs the arm to treat");
        await b.GetByTestId("sign-approval").ClickAsync();
        await SignAsync(b);
        await rowB.GetByTestId("request-status").Filter(new() { HasText = "Approved" }).WaitForAsync();
        Assert.Contains(Signing.FullNameOf("stat-b"), await rowB.GetByTestId("request-signature").InnerTextAsync());

        var listed = (await trial.Server.As(TrialRole.Statistician).Unblinding.ListUnblindingRequestsAsync(new ListUnblindingRequestsRequest()))
            .Requests.Single(r => r.UnblindingId == requestId);
        Assert.Equal(UnblindingRequestStatus.Approved, listed.Status);
        Assert.Equal("stat-b", listed.ApprovedBy);
        var expires = listed.ExpiresAt.ToDateTimeOffset();
        Assert.Equal($"expires {Utc(expires)}, in 3 days", (await rowB.GetByTestId("request-expiry").InnerTextAsync()).Trim());

        // A reads the report: the participant's arm, as the service holds it.
        await a.ReloadAsync();
        var rowA = a.Locator(".mud-table-body tr").Filter(new() { HasText = requestId });
        await rowA.GetByTestId("view-report").ClickAsync();
        var allocation = a.GetByTestId("report-allocation");
        await allocation.WaitForAsync();
        Assert.Equal(1, await allocation.CountAsync());
        var revealed = await trial.Server.As(TrialRole.Statistician).Unblinding.GetUnblindedAllocationsAsync(new GetUnblindedAllocationsRequest { UnblindingId = requestId });
        var expected = Assert.Single(revealed.Allocations);
        var cells = (await allocation.InnerTextAsync()).Split('\t', '\n').Select(c => c.Trim()).Where(c => c.Length > 0).ToArray();
        Assert.Equal([participant, "UM", expected.Assignment.RandomizationNumber, expected.Treatment.ArmCode, expected.Treatment.Treatment], cells);
        var reads = await trial.Server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "unblinding.allocations_read", User = "stat-a" });
        Assert.Equal(requestId, Assert.Single(reads.Events).Target);
        await a.GetByTestId("close-report").ClickAsync();
        await a.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("unblinding"), FullPage = true });

        // After the approval expires, nothing is offered (a new sign-in: the session's idle time has passed too).
        trial.Server.Clock.Advance(TimeSpan.FromDays(3) + TimeSpan.FromMinutes(1));
        var later = await trial.SignInAsync(browser.Browser, TrialRole.Statistician, "stat-a");
        await later.GotoAsync(trial.Address + "/unblinding");
        var expiredRow = later.Locator(".mud-table-body tr").Filter(new() { HasText = requestId });
        await expiredRow.GetByTestId("request-status").Filter(new() { HasText = "Expired" }).WaitForAsync();
        Assert.Equal($"expired {Utc(expires)}", (await expiredRow.GetByTestId("request-expiry").InnerTextAsync()).Trim());
        Assert.Equal(0, await later.GetByTestId("view-report").CountAsync());
    }

    [Fact]
    public async Task A_dsmb_member_sees_only_the_aggregate_requests_and_reads_the_counts_by_arm_and_no_participant()
    {
        await using var trial = new WebTrial();
        var participants = await RandomizedAsync(trial, 4);
        var statA = new UnblindingService.UnblindingServiceClient(trial.Server.Channel(trial.Server.Token(TrialRole.Statistician, "stat-a")));
        var statB = new UnblindingService.UnblindingServiceClient(trial.Server.Channel(trial.Server.Token(TrialRole.Statistician, "stat-b")));
        var aggregate = (await statA.RequestUnblindingAsync(new RequestUnblindingRequest { Scope = UnblindingScope.DsmbAggregate, Reason = "interim safety review" })).Request;
        await statB.ApproveUnblindingAsync(new ApproveUnblindingRequest { UnblindingId = aggregate.UnblindingId, Reason = "DSMB charter" });
        var single = (await statA.RequestUnblindingAsync(new RequestUnblindingRequest
        {
            Scope = UnblindingScope.Participant, ParticipantId = participants[0], Reason = "SUSAR",
        })).Request;
        await statB.ApproveUnblindingAsync(new ApproveUnblindingRequest { UnblindingId = single.UnblindingId, Reason = "agreed" });

        var page = await trial.SignInAsync(browser.Browser, TrialRole.DsmbMember, "dsmb-1");
        await page.GotoAsync(trial.Address + "/unblinding");
        var rows = page.Locator(".mud-table-body tr");
        await rows.Filter(new() { HasText = aggregate.UnblindingId }).WaitForAsync();
        Assert.Equal(1, await rows.CountAsync());
        Assert.Equal(0, await page.GetByTestId("request").CountAsync());
        Assert.Equal(0, await page.GetByTestId("approve").CountAsync());
        var before = await EverythingAsync(page);
        Assert.DoesNotContain(single.UnblindingId, before);
        Assert.DoesNotContain("placebo", before, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("million", before, StringComparison.OrdinalIgnoreCase);

        await page.GetByTestId("view-report").ClickAsync();
        await page.GetByTestId("report-counts").WaitForAsync();
        Assert.Equal(0, await page.GetByTestId("report-allocation").CountAsync());
        var counts = page.GetByTestId("report-count");
        Assert.Equal(3, await counts.CountAsync());
        var total = 0;
        for (var i = 0; i < 3; i++)
            total += int.Parse((await counts.Nth(i).Locator("td").Last.InnerTextAsync()).Trim(), CultureInfo.InvariantCulture);
        Assert.Equal(participants.Count, total);
        var report = await page.GetByTestId("report").InnerTextAsync();
        foreach (var participant in participants) Assert.DoesNotContain(participant, report);
    }
}
