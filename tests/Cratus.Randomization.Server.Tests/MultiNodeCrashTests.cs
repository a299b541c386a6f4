using System.Collections.Concurrent;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Npgsql;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// Two server processes on one PostgreSQL database under a load of Randomize calls in every stratum, through both;
/// one of them, each in turn, is killed with SIGKILL at a random moment and started again. A call that got no answer
/// is retried at once on the other node with its request id, as a load balancer would, while the killed node's
/// transactions are still being ended by PostgreSQL. Every acknowledged randomization is kept, no entry is used twice,
/// each stratum is used in order without gaps, the totals count them all and the audit trail is one intact chain.
/// </summary>
[Trait("Category", "Slow")]
public sealed class MultiNodeCrashTests : IRunsOnPostgreSql, IAsyncLifetime
{
    private string _database = "";
    private ServerProcess.Deployment _deployment = null!;

    public async Task InitializeAsync()
    {
        if (TestDatabases.PostgreSqlServer is null) return;
        _database = await TestDatabases.CreatePostgreSqlDatabaseAsync();
        _deployment = new ServerProcess.Deployment(Directory.CreateTempSubdirectory("cratus-nodes-crash-").FullName, targetParticipants: 5000);
    }

    public async Task DisposeAsync()
    {
        if (_database.Length > 0) await TestDatabases.DropPostgreSqlDatabaseAsync(_database);
    }

    private Dictionary<string, string> Settings(string node) => _deployment.Settings(node, new Dictionary<string, string>
    {
        ["Database:Provider"] = "PostgreSql",
        ["Database:ConnectionString"] = _database,
    });

    [ProviderFact]
    public async Task EitherNodeKilledUnderLoad_TheOtherAnswersRetries_NothingLostDuplicatedOrReordered()
    {
        var cycles = int.TryParse(Environment.GetEnvironmentVariable("CRATUS_CRASH_CYCLES"), CultureInfo.InvariantCulture, out var n) ? n : 6;
        var nodes = new[] { await ServerProcess.StartAsync(Settings("a")), await ServerProcess.StartAsync(Settings("b")) };
        try
        {
            await nodes[0].As(TrialRole.Statistician).Schedule.GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "multi-node crash test" });
            var acknowledged = new ConcurrentDictionary<string, BlindedAssignment>();
            var random = new Random(20261130);
            var next = 0;
            for (var cycle = 0; cycle < cycles; cycle++)
            {
                var victim = cycle % 2;
                var sites = nodes.Select(node => node.As(node.Token(TrialRole.SiteCoordinator, "UM"))).Select(c => c.Randomization).ToArray();
                using var stop = new CancellationTokenSource();
                var load = Enumerable.Range(0, 12).Select(async caller =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        var i = Interlocked.Increment(ref next);
                        var request = Requests.Randomize($"X{i:D5}", i % 2 == 0 ? Sex.Female : Sex.Male, requestId: $"00000000-0000-4000-8002-{i:D12}");
                        var node = caller % 2;
                        for (var attempt = 1; ; attempt++)
                        {
                            try
                            {
                                acknowledged[request.RequestId] = (await sites[node].RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(30))).Assignment;
                                break;
                            }
                            catch (RpcException e) when (attempt < 10 && e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Cancelled or StatusCode.Unknown)
                            {
                                // No answer (the node died, or the outcome is unknown): the same request, with its id, on the survivor.
                                node = 1 - victim;
                            }
                        }
                    }
                }).ToList();
                await Task.Delay(random.Next(300, 1200));
                await nodes[victim].DisposeAsync(); // SIGKILL, in the middle of whatever was in flight
                await Task.Delay(random.Next(100, 400));
                stop.Cancel();
                await Task.WhenAll(load);
                nodes[victim] = await ServerProcess.StartAsync(Settings(victim == 0 ? "a" : "b"));
            }

            var monitor = nodes[1].As(TrialRole.Monitor);
            foreach (var (_, assignment) in acknowledged)
                Assert.Equal(assignment, (await monitor.Randomization.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = assignment.ParticipantId })).Assignment);
            var verification = await monitor.Audit.VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
            Assert.True(verification.Intact, verification.Problem);

            await using var db = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_database) { Pooling = false }.ConnectionString);
            await db.OpenAsync();
            await using var check = new NpgsqlCommand("""
                SELECT COUNT(*), COUNT(DISTINCT "ScheduleEntryId"),
                       (SELECT COUNT(*) FROM (SELECT "Stratum", MAX("StratumSequence") - COUNT(*) AS gap FROM "Participants" GROUP BY "Stratum") g WHERE gap <> 0),
                       (SELECT "Randomized" FROM "TrialTotals"),
                       (SELECT COUNT(*) FROM "AuditEvents" WHERE "Action" = 'participant.randomized')
                FROM "Participants"
                """, db);
            await using var reader = await check.ExecuteReaderAsync();
            await reader.ReadAsync();
            Assert.Equal(acknowledged.Count, reader.GetInt64(0));
            Assert.Equal(reader.GetInt64(0), reader.GetInt64(1));
            Assert.Equal(0, reader.GetInt64(2));
            Assert.Equal(reader.GetInt64(0), reader.GetInt32(3));
            Assert.Equal(reader.GetInt64(0), reader.GetInt64(4));
            Assert.True(acknowledged.Count > 10 * cycles, $"only {acknowledged.Count} randomizations in {cycles} cycles");
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }
}
