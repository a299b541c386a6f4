using System.Collections.Concurrent;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Microsoft.Data.Sqlite;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// The server process is killed with SIGKILL at a random moment under a load of Randomize calls, and restarted on
/// the same SQLite file: every acknowledged randomization is still there, no schedule entry is used twice, each
/// stratum is used in order without gaps, retries get their first answer, and the audit trail verifies.
/// </summary>
[Trait("Category", "Slow")]
public sealed class CrashTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("cratus-crash-").FullName;
    private ServerProcess.Deployment _deployment = null!;

    public Task InitializeAsync()
    {
        _deployment = new ServerProcess.Deployment(_folder, targetParticipants: 5000);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    private Dictionary<string, string> Settings() => _deployment.Settings("node", new Dictionary<string, string>
    {
        ["Database:Provider"] = "Sqlite",
        ["Database:SqlitePath"] = Path.Combine(_folder, "cratus.db"),
    });

    [Fact]
    public async Task KilledUnderLoadTwentyTimes_LosesNoAcknowledgedRandomizationAndUsesNoEntryTwice()
    {
        var cycles = int.TryParse(Environment.GetEnvironmentVariable("CRATUS_CRASH_CYCLES"), CultureInfo.InvariantCulture, out var n) ? n : 20;
        var settings = Settings();
        var acknowledged = new ConcurrentDictionary<string, BlindedAssignment>();
        var unacknowledged = new ConcurrentDictionary<string, RandomizeRequest>();
        var random = new Random(20261122);
        var next = 0;
        for (var cycle = 0; cycle <= cycles; cycle++)
        {
            await using var server = await ServerProcess.StartAsync(settings);
            var site = server.As(TrialRole.SiteCoordinator, "UM").Randomization;
            if (cycle == 0)
            {
                await server.As(TrialRole.Statistician).Schedule.GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "crash test" });
            }
            // After a restart, every request that got no answer is retried with its request id: the first answer, or a first allocation.
            foreach (var (id, request) in unacknowledged)
            {
                // DEADLINE_EXCEEDED says the outcome is unknown and to retry with the same request id (a loaded machine).
                RandomizeResponse? reply = null;
                for (var attempt = 1; reply is null; attempt++)
                {
                    try
                    {
                        reply = await site.RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(20));
                    }
                    catch (RpcException e) when (e.StatusCode == StatusCode.DeadlineExceeded && attempt < 5)
                    {
                    }
                }
                Assert.True(acknowledged.TryAdd(id, reply.Assignment));
                unacknowledged.TryRemove(id, out _);
            }
            if (cycle == cycles) break;

            using var stop = new CancellationTokenSource();
            var load = Enumerable.Range(0, 8).Select(async _ =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var i = Interlocked.Increment(ref next);
                    var request = Requests.Randomize($"K{i:D5}", i % 2 == 0 ? Sex.Female : Sex.Male, requestId: $"00000000-0000-4000-8000-{i:D12}");
                    try
                    {
                        var reply = await site.RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(20));
                        acknowledged[request.RequestId] = reply.Assignment;
                    }
                    catch (RpcException)
                    {
                        unacknowledged[request.RequestId] = request;
                        return;
                    }
                }
            }).ToList();
            await Task.Delay(random.Next(150, 700));
            await server.DisposeAsync(); // SIGKILL, in the middle of whatever was in flight
            stop.Cancel();
            await Task.WhenAll(load);
        }

        await using var last = await ServerProcess.StartAsync(settings);
        var monitor = last.As(TrialRole.Monitor).Randomization;
        foreach (var (_, assignment) in acknowledged)
        {
            var stored = await monitor.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = assignment.ParticipantId });
            Assert.Equal(assignment, stored.Assignment);
        }
        var verification = await last.As(TrialRole.Monitor).Audit.VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
        Assert.True(verification.Intact, verification.Problem);
        await using var db = new SqliteConnection($"Data Source={settings["Database:SqlitePath"]};Pooling=False");
        await db.OpenAsync();
        await using var check = db.CreateCommand();
        check.CommandText = """
            SELECT COUNT(*), COUNT(DISTINCT "ScheduleEntryId"),
                   (SELECT COUNT(*) FROM (SELECT "Stratum", MAX("StratumSequence") - COUNT(*) AS gap FROM "Participants" GROUP BY "Stratum") WHERE gap <> 0)
            FROM "Participants"
            """;
        await using var reader = await check.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(acknowledged.Count, reader.GetInt64(0));
        Assert.Equal(reader.GetInt64(0), reader.GetInt64(1));
        Assert.Equal(0, reader.GetInt64(2));
        Assert.True(acknowledged.Count > cycles, $"only {acknowledged.Count} randomizations in {cycles} cycles");
    }
}
