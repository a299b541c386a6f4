using System.Collections.Concurrent;
using System.Diagnostics;
using Cratus.Randomization.Protos.V1;
using Grpc.Core;
using Microsoft.Data.Sqlite;

namespace Cratus.Benchmark.Scenarios;

/// <summary>Crash cycles (<c>--only crash</c>, not in the default run): kills the server again and again under load
/// and checks what survived.</summary>
internal static class CrashCyclesScenario
{
    public static async Task RunAsync(int cycles, Report report)
    {
        report.Line("## Crash cycles");
        report.Line();
        report.Line(await CrashCyclesAsync(cycles));
        report.Line();
    }

    // SIGKILL the server at a random moment under a load of Randomize calls, restart it on the same file, retry what got
    // no answer; at the end every acknowledged randomization must be stored as acknowledged, no schedule entry used
    // twice, every stratum used in order without gaps, and the audit trail intact. Throws (exit code non-zero) if not.
    private static async Task<string> CrashCyclesAsync(int cycles)
    {
        var deployment = await BenchServer.DeployAsync(0, BenchStore.Sqlite);
        var acknowledged = new ConcurrentDictionary<string, BlindedAssignment>();
        var unacknowledged = new ConcurrentDictionary<string, RandomizeRequest>();
        var random = new Random(20261122);
        var next = 0;
        var started = Stopwatch.GetTimestamp();
        try
        {
            for (var cycle = 0; ; cycle++)
            {
                await using var server = await BenchServer.LaunchAsync(deployment, removeDeploymentOnDispose: false);
                if (cycle == 0)
                {
                    await server.CreateAccountsAsync();
                    await server.GenerateScheduleAsync();
                }
                var site = new RandomizationService.RandomizationServiceClient(server.Channel(server.Token("site_coordinator", "UM")));
                foreach (var (id, request) in unacknowledged)
                {
                    acknowledged[id] = (await site.RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(20))).Assignment;
                    unacknowledged.TryRemove(id, out _);
                }
                if (cycle == cycles) return await VerifyAfterCrashesAsync(server, deployment, acknowledged, cycles, Stopwatch.GetElapsedTime(started));

                using var stop = new CancellationTokenSource();
                var load = Enumerable.Range(0, 8).Select(async _ =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        var request = BenchServer.Request($"K{Interlocked.Increment(ref next)}");
                        try
                        {
                            acknowledged[request.RequestId] = (await site.RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(20))).Assignment;
                        }
                        catch (RpcException)
                        {
                            unacknowledged[request.RequestId] = request;
                            return;
                        }
                    }
                }).ToList();
                await Task.Delay(random.Next(150, 700));
                await server.KillAsync();
                stop.Cancel();
                await Task.WhenAll(load);
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            BenchServer.DeleteFolder(deployment.Folder);
        }
    }

    private static async Task<string> VerifyAfterCrashesAsync(BenchServer server, BenchDeployment deployment, ConcurrentDictionary<string, BlindedAssignment> acknowledged, int cycles, TimeSpan took)
    {
        var monitor = new RandomizationService.RandomizationServiceClient(server.Channel(server.Token("monitor")));
        foreach (var (_, assignment) in acknowledged)
        {
            var found = (await monitor.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = assignment.ParticipantId })).Assignment;
            if (!found.Equals(assignment)) throw new InvalidOperationException($"participant {assignment.ParticipantId} is stored differently from what was acknowledged");
        }
        var audit = await new AuditService.AuditServiceClient(server.Channel(server.Token("monitor"))).VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
        if (!audit.Intact) throw new InvalidOperationException("the audit trail does not verify: " + audit.Problem);
        await using var db = new SqliteConnection($"Data Source={deployment.Settings["Database__SqlitePath"]};Pooling=False");
        await db.OpenAsync();
        await using var check = db.CreateCommand();
        check.CommandText = """
            SELECT COUNT(*), COUNT(DISTINCT "ScheduleEntryId"),
                   (SELECT COUNT(*) FROM (SELECT "Stratum", MAX("StratumSequence") - COUNT(*) AS gap FROM "Participants" GROUP BY "Stratum") WHERE gap <> 0)
            FROM "Participants"
            """;
        await using var reader = await check.ExecuteReaderAsync();
        await reader.ReadAsync();
        var (stored, entries, gaps) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        if (stored != acknowledged.Count || entries != stored || gaps != 0)
            throw new InvalidOperationException($"{acknowledged.Count} acknowledged, {stored} stored, {entries} distinct entries, {gaps} strata with gaps");
        return $"{cycles} SIGKILLs under 8 callers of Randomize, each at a random moment, the server restarted on the same file every time " +
               $"({took.TotalSeconds:F0} s): {acknowledged.Count:N0} acknowledged randomizations, all stored as acknowledged, {entries:N0} distinct " +
               "schedule entries, every stratum used in order without gaps, the audit trail intact.";
    }
}
