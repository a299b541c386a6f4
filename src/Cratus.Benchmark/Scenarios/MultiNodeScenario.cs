using System.Collections.Concurrent;
using Cratus.Randomization.Protos.V1;
using Grpc.Core;
using Grpc.Net.Client;
using Npgsql;

namespace Cratus.Benchmark.Scenarios;

/// <summary>
/// Two server processes on one PostgreSQL database (<c>--store postgres --only multinode</c>): Randomize from 32 and
/// then 128 callers, half on each node, across four strata (two sites by two sexes), reported over PostgreSQL's own
/// commit rate measured in the same run. Afterwards every allocation is checked: each acknowledged randomization stored
/// as acknowledged, no schedule entry used twice, every stratum used in order without gaps, the audit trail intact.
/// Throws (exit code non-zero) if not.
/// </summary>
internal static class MultiNodeScenario
{
    private static readonly int[] Concurrencies = [32, 128];

    // Entries per stratum: room for every randomization of the windows at well over 1,000 a second.
    private const int EntriesPerStratum = 10_000;

    public static async Task RunAsync(BenchStore store, Window window, Report report)
    {
        report.Line("## Two nodes on one PostgreSQL");
        report.Line();
        if (store.Kind != StoreKind.PostgreSql)
        {
            report.Line("Not run: the two-node scenario needs `--store postgres` (and its connection string).");
            report.Line();
            return;
        }
        Console.WriteLine("measuring PostgreSQL's commit ceiling (1 and 32 connections)");
        var single = await StorageCeilingScenario.MeasureAsync(store, 1, window);
        var many = await StorageCeilingScenario.MeasureAsync(store, 32, window);
        var deployment = await BenchServer.DeployAsync(0, store, secondSite: true, target: EntriesPerStratum);
        BenchServer? first = null, second = null;
        try
        {
            first = await BenchServer.LaunchAsync(deployment, removeDeploymentOnDispose: false);
            await first.CreateAccountsAsync();
            await first.GenerateScheduleAsync();
            second = await BenchServer.LaunchAsync(deployment, removeDeploymentOnDispose: false);
            var acknowledged = new ConcurrentDictionary<string, BlindedAssignment>();
            var unanswered = new ConcurrentDictionary<string, RandomizeRequest>();
            var results = new Dictionary<int, Result>();
            foreach (var callers in Concurrencies)
            {
                Console.WriteLine($"measuring two nodes at {callers} callers on server processes {first.ProcessId} and {second.ProcessId}");
                results[callers] = await MeasureAsync(first, second, callers, window, $"M{callers}-", acknowledged, unanswered);
            }
            var check = await VerifyAsync(first, deployment, acknowledged, unanswered);
            report.Line($"PostgreSQL's durable single-row commit: {single.Rate:F0} commits/s on one connection (p99 {single.P99:F2} ms), " +
                        $"{many.Rate:F0} commits/s on 32 connections (p99 {many.P99:F2} ms).");
            report.Line();
            report.Line("| callers (half per node) | randomizations/s | p50 ms | p99 ms | statuses | / single-connection commit rate | / 32-connection commit rate |");
            report.Line("| ---: | ---: | ---: | ---: | --- | ---: | ---: |");
            foreach (var callers in Concurrencies)
            {
                var r = results[callers];
                report.Line($"| {callers} | {r.Rate:F0} | {r.P50:F2} | {r.P99:F2} | {r.Statuses} | {r.Rate / single.Rate:F3} | {r.Rate / many.Rate:F3} |");
            }
            report.Line();
            report.Line(check);
            report.Line();
        }
        finally
        {
            if (first is not null) await first.DisposeAsync();
            if (second is not null) await second.DisposeAsync();
            await deployment.RemoveAsync();
        }
    }

    /// <summary>Randomize calls spread over both nodes (the loops alternate between their connections) and both sites;
    /// each participant's sex, and so the stratum within the site, follows its screening id.</summary>
    public static Task<Result> MeasureAsync(BenchServer first, BenchServer second, int callers, Window window, string prefix,
        ConcurrentDictionary<string, BlindedAssignment> acknowledged, ConcurrentDictionary<string, RandomizeRequest> unanswered)
    {
        GrpcChannel[] channels = [.. first.Channels().Zip(second.Channels()).SelectMany(pair => new[] { pair.First, pair.Second })];
        var sites = first.Sites;
        return Load.MeasureAsync(callers, window, channels, async (channel, i) =>
        {
            var request = BenchServer.Request($"{prefix}{i}", sites[(int)(i % sites.Length)]);
            try
            {
                acknowledged[request.RequestId] = (await new RandomizationService.RandomizationServiceClient(channel).RandomizeAsync(request)).Assignment;
            }
            catch (RpcException)
            {
                unanswered[request.RequestId] = request;
                throw;
            }
        });
    }

    /// <summary>Retries what got no answer (the same request id: the first answer if it was stored), then checks every
    /// allocation through the service and in the database.</summary>
    private static async Task<string> VerifyAsync(BenchServer server, BenchDeployment deployment,
        ConcurrentDictionary<string, BlindedAssignment> acknowledged, ConcurrentDictionary<string, RandomizeRequest> unanswered)
    {
        var site = new RandomizationService.RandomizationServiceClient(server.Channel(server.Token("site_coordinator", server.Sites)));
        foreach (var (id, request) in unanswered)
            acknowledged[id] = (await site.RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(60))).Assignment;
        var monitor = new RandomizationService.RandomizationServiceClient(server.Channel(server.Token("monitor")));
        await Parallel.ForEachAsync(acknowledged.Values, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (assignment, ct) =>
        {
            var found = (await monitor.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = assignment.ParticipantId }, cancellationToken: ct)).Assignment;
            if (!found.Equals(assignment)) throw new InvalidOperationException($"participant {assignment.ParticipantId} is stored differently from what was acknowledged");
        });
        var audit = await new AuditService.AuditServiceClient(server.Channel(server.Token("monitor"))).VerifyAuditTrailAsync(new VerifyAuditTrailRequest(),
            deadline: DateTime.UtcNow.AddMinutes(5));
        if (!audit.Intact) throw new InvalidOperationException("the audit trail does not verify: " + audit.Problem);
        await using var db = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(deployment.Database) { Pooling = false }.ConnectionString);
        await db.OpenAsync();
        await using var check = new NpgsqlCommand("""
            SELECT COUNT(*), COUNT(DISTINCT p."ScheduleEntryId"),
                   (SELECT COUNT(*) FROM (SELECT "Stratum", MAX("StratumSequence") - COUNT(*) AS gap FROM "Participants" GROUP BY "Stratum") g WHERE gap <> 0),
                   COUNT(*) FILTER (WHERE e."Stratum" <> p."Stratum" OR e."Sequence" <> p."StratumSequence"),
                   COUNT(DISTINCT p."Stratum")
            FROM "Participants" p JOIN "ScheduleEntries" e ON e."Id" = p."ScheduleEntryId"
            """, db);
        await using var reader = await check.ExecuteReaderAsync();
        await reader.ReadAsync();
        var (stored, entries, gaps, misplaced, strata) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
        if (stored != acknowledged.Count || entries != stored || gaps != 0 || misplaced != 0)
            throw new InvalidOperationException($"{acknowledged.Count} acknowledged, {stored} stored, {entries} distinct entries, {gaps} strata with gaps, {misplaced} participants on another stratum's or place's entry");
        return $"Checked afterwards: {acknowledged.Count:N0} acknowledged randomizations ({unanswered.Count} retried after an error), all stored as acknowledged " +
               $"(each read back by a monitor), {entries:N0} distinct schedule entries, {strata} strata each used in order without gaps, every participant on " +
               "its own stratum's entry at its own place, the audit trail intact.";
    }
}
