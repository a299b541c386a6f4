using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// PostgreSQL hangs (SIGSTOP on a private cluster: connections are accepted, nothing answers) under a running service:
/// every call ends on the server by its deadline, the client's or the server's, plus one second; health answers at
/// once and tells within five seconds; after the database resumes the allocation has no gap and no duplicate.
/// </summary>
[Trait("Category", "Slow")]
[Collection(OneServerProcessTestAtATime.Name)]
public sealed class HungDatabaseTests(PrivatePostgreSql cluster) : IRunsOnPostgreSql, IClassFixture<PrivatePostgreSql>
{
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ServerCallTimeout = TimeSpan.FromSeconds(4);

    private async Task<TrialServer> NewServerAsync() =>
        new(TestDatabase.PostgreSql, onLoopback: true, new Dictionary<string, string>
        {
            ["Database:Reuse"] = await cluster.CreateDatabaseAsync(),
            ["Limits:CallTimeout"] = ServerCallTimeout.ToString("c", CultureInfo.InvariantCulture),
        });

    [ProviderFact]
    public async Task Randomize_DatabaseHangs_EveryCallEndsOnTheServerByItsDeadline_AndAllocationResumesWithoutGap()
    {
        // Arrange
        await using var server = await NewServerAsync();
        using var ended = new ServerCallsEnded(server.Services);
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "hung database test" });
        var before = await server.Site().RandomizeAsync(Requests.Randomize("BEFORE"));
        var during = Enumerable.Range(1, 4).Select(i => Requests.Randomize($"DURING{i}")).ToList();
        var clientDeadline = TimeSpan.FromSeconds(2);
        // Clients made before the hang: making one mints a token for an account the test writes to the database.
        var site = server.Site();
        var trial = server.Trial(TrialRole.SiteCoordinator);
        ended.Clear();

        // Act 1: calls with a client deadline shorter than the server's call timeout, and one without any deadline.
        await cluster.FreezeAsync();
        RpcException[] withDeadline, withoutDeadline;
        TimeSpan withoutDeadlineTook;
        try
        {
            withDeadline = await Task.WhenAll(during.Select(r => FailureOf(() =>
                site.RandomizeAsync(r, deadline: DateTime.UtcNow + clientDeadline).ResponseAsync)));
            var serverEnded = await ended.WaitForAsync(count: during.Count, TimeSpan.FromSeconds(15));
            var started = Stopwatch.StartNew();
            withoutDeadline = [await FailureOf(() => trial.GetTrialAsync(new GetTrialRequest()).ResponseAsync)];
            withoutDeadlineTook = started.Elapsed;

            // Assert: the server's own end of each call, not only the client's timer, came by the deadline.
            Assert.All(serverEnded, took => Assert.True(took <= clientDeadline + Slack, $"a call ran {took.TotalSeconds:F1} s on the server with a client deadline of {clientDeadline.TotalSeconds} s"));
        }
        finally
        {
            await cluster.ThawAsync();
        }
        Assert.All(withDeadline, e => Assert.Contains(e.StatusCode, new[] { StatusCode.DeadlineExceeded, StatusCode.Unavailable }));
        Assert.Contains(withoutDeadline[0].StatusCode, new[] { StatusCode.DeadlineExceeded, StatusCode.Unavailable });
        Assert.True(withoutDeadlineTook <= ServerCallTimeout + Slack,
            $"a call without a client deadline ran {withoutDeadlineTook.TotalSeconds:F1} s; the server's call timeout is {ServerCallTimeout.TotalSeconds} s");

        // Act 2: the database is back; the interrupted requests are retried with their request ids, and a new one made.
        var retried = new List<BlindedAssignment>();
        foreach (var request in during) retried.Add((await RandomizeWhenBackAsync(server, request)).Assignment);
        var after = (await RandomizeWhenBackAsync(server, Requests.Randomize("AFTER"))).Assignment;

        // Assert: one stratum used in order, without gap or duplicate, and one intact audit chain.
        var numbers = new[] { before.Assignment }.Concat(retried).Append(after).Select(a => a.RandomizationNumber).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Enumerable.Range(1, 6).Select(i => $"R01-{i:D3}"), numbers);
        var stored = await server.QueryAsync("""SELECT COUNT(*), COUNT(DISTINCT "StratumSequence") FROM "Participants" """);
        Assert.Equal(6L, Convert.ToInt64(stored[0][0], CultureInfo.InvariantCulture));
        Assert.Equal(6L, Convert.ToInt64(stored[0][1], CultureInfo.InvariantCulture));
        var audit = await new AuditService.AuditServiceClient(server.Channel(TrialRole.Monitor)).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
        Assert.True(audit.Intact, audit.Problem);
    }

    [ProviderFact]
    public async Task HealthCheck_DatabaseHangsThenResumesThenRefuses_AnswersWithinOneSecondAndTurnsWithinFiveSeconds()
    {
        // Arrange
        await using var server = await NewServerAsync();
        var health = new Health.HealthClient(server.Channel(token: null));
        await using var probes = new HealthProbes(health);
        await probes.WaitForAsync(ServingStatus.Serving, TimeSpan.FromSeconds(10));
        var limit = TimeSpan.FromSeconds(5);
        // Made before the hang: making it mints a token for an account the test writes to the database.
        var site = server.Site();

        // Act: hang, with calls waiting on the database meanwhile; resume; refuse; return.
        TimeSpan toNotServingWhenHung;
        await cluster.FreezeAsync();
        try
        {
            var waiting = Enumerable.Range(1, 3).Select(i => FailureOf(() => site.RandomizeAsync(
                Requests.Randomize($"HUNG{i}"), deadline: DateTime.UtcNow.AddSeconds(3)).ResponseAsync)).ToList();
            toNotServingWhenHung = await probes.WaitForAsync(ServingStatus.NotServing, limit + TimeSpan.FromSeconds(15));
            await Task.WhenAll(waiting);
        }
        finally
        {
            await cluster.ThawAsync();
        }
        var toServingWhenResumed = await probes.WaitForAsync(ServingStatus.Serving, limit + TimeSpan.FromSeconds(15));
        await cluster.StopAsync();
        TimeSpan toNotServingWhenRefused, toServingWhenBack;
        try
        {
            toNotServingWhenRefused = await probes.WaitForAsync(ServingStatus.NotServing, limit + TimeSpan.FromSeconds(15));
        }
        finally
        {
            await cluster.StartAsync();
        }
        toServingWhenBack = await probes.WaitForAsync(ServingStatus.Serving, limit + TimeSpan.FromSeconds(15));

        // Assert
        Assert.True(toNotServingWhenHung <= limit, $"NOT_SERVING came {toNotServingWhenHung.TotalSeconds:F1} s after the database hung");
        Assert.True(toServingWhenResumed <= limit, $"SERVING came {toServingWhenResumed.TotalSeconds:F1} s after the database resumed");
        Assert.True(toNotServingWhenRefused <= limit, $"NOT_SERVING came {toNotServingWhenRefused.TotalSeconds:F1} s after the database stopped");
        Assert.True(toServingWhenBack <= limit, $"SERVING came {toServingWhenBack.TotalSeconds:F1} s after the database started again");
        Assert.True(probes.Slowest < TimeSpan.FromSeconds(1), $"a health probe took {probes.Slowest.TotalSeconds:F1} s");
        Assert.Empty(probes.Failures);
    }

    [ProviderFact]
    public async Task HealthCheck_EachServiceName_AnswersForItselfAndUnknownNamesAreNotFound()
    {
        // Arrange
        await using var server = await NewServerAsync();
        var health = new Health.HealthClient(server.Channel(token: null));
        string[] names =
        [
            "", RandomizationService.Descriptor.FullName, PharmacyService.Descriptor.FullName, TrialService.Descriptor.FullName,
            ScheduleService.Descriptor.FullName, UnblindingService.Descriptor.FullName, AuditService.Descriptor.FullName,
            IdentityService.Descriptor.FullName, AdministrationService.Descriptor.FullName, DoseEscalationService.Descriptor.FullName,
        ];

        // Act
        var answers = new Dictionary<string, ServingStatus>();
        foreach (var name in names) answers[name] = (await health.CheckAsync(new HealthCheckRequest { Service = name }, deadline: DateTime.UtcNow.AddSeconds(1))).Status;
        var unknown = await Assert.ThrowsAsync<RpcException>(() =>
            health.CheckAsync(new HealthCheckRequest { Service = "cratus.randomization.v1.NoSuchService" }, deadline: DateTime.UtcNow.AddSeconds(1)).ResponseAsync);

        // Assert
        Assert.All(names, name => Assert.Equal(ServingStatus.Serving, answers[name]));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    private static async Task<RpcException> FailureOf(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (RpcException ex)
        {
            return ex;
        }
        throw new Xunit.Sdk.XunitException("the call succeeded although the database hung");
    }

    private static async Task<RandomizeResponse> RandomizeWhenBackAsync(TrialServer server, RandomizeRequest request)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await server.Site().RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(10));
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && attempt < 10)
            {
                await Task.Delay(500);
            }
        }
    }

    /// <summary>
    /// How long the server ran each call that ended, as its own hosting metrics record it (the server's end of the call,
    /// which a client deadline does not show: the client stops waiting whether or not the server stopped working).
    /// Health probes are left out.
    /// </summary>
    private sealed class ServerCallsEnded : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<TimeSpan> _durations = new();

        public ServerCallsEnded(IServiceProvider services)
        {
            var meters = services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument is { Name: "http.server.request.duration", Meter.Name: "Microsoft.AspNetCore.Hosting" } && ReferenceEquals(instrument.Meter.Scope, meters))
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<double>((_, seconds, tags, _) =>
            {
                foreach (var tag in tags)
                    if (tag.Key == "http.route" && tag.Value is string route && route.Contains("grpc.health", StringComparison.Ordinal)) return;
                _durations.Enqueue(TimeSpan.FromSeconds(seconds));
            });
            _listener.Start();
        }

        public void Clear() => _durations.Clear();

        public async Task<List<TimeSpan>> WaitForAsync(int count, TimeSpan limit)
        {
            var until = Stopwatch.StartNew();
            while (_durations.Count < count && until.Elapsed < limit) await Task.Delay(100);
            Assert.True(_durations.Count >= count, $"only {_durations.Count} of {count} calls ended on the server within {limit.TotalSeconds} s");
            return [.. _durations];
        }

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>Probes gRPC health every 200 ms, each with a deadline of 2 s, and keeps what it saw.</summary>
    private sealed class HealthProbes : IAsyncDisposable
    {
        private readonly Health.HealthClient _health;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _probing;
        private volatile int _status = -1;
        private long _slowestTicks;

        public ConcurrentQueue<string> Failures { get; } = new();
        public TimeSpan Slowest => TimeSpan.FromTicks(Interlocked.Read(ref _slowestTicks));

        public HealthProbes(Health.HealthClient health)
        {
            _health = health;
            _probing = Task.Run(ProbeAsync);
        }

        private async Task ProbeAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                var took = Stopwatch.StartNew();
                try
                {
                    _status = (int)(await _health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2))).Status;
                }
                catch (RpcException ex)
                {
                    Failures.Enqueue($"{ex.StatusCode} after {took.Elapsed.TotalSeconds:F1} s");
                }
                var ticks = took.Elapsed.Ticks;
                if (ticks > Interlocked.Read(ref _slowestTicks)) Interlocked.Exchange(ref _slowestTicks, ticks);
                await Task.Delay(200);
            }
        }

        /// <summary>How long until the probes saw <paramref name="expected"/>, counted from now.</summary>
        public async Task<TimeSpan> WaitForAsync(ServingStatus expected, TimeSpan limit)
        {
            var waited = Stopwatch.StartNew();
            while (_status != (int)expected)
            {
                Assert.True(waited.Elapsed < limit, $"health did not turn {expected} within {limit.TotalSeconds} s");
                await Task.Delay(50);
            }
            return waited.Elapsed;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _probing;
            _stop.Dispose();
        }
    }
}
