using System.Collections.Concurrent;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>Two server processes on different ports sharing one PostgreSQL database: one truth.</summary>
[Trait("Category", "Slow")]
public sealed class MultiNodeTests : MultiNodeCases, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

/// <summary>Two server processes on different ports sharing one SQL Server database: one truth.</summary>
[Trait("Category", "Slow")]
public sealed class MultiNodeTestsOnSqlServer : MultiNodeCases, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}

/// <summary>Two server processes on different ports sharing one database server's database (see the subclasses).</summary>
public abstract class MultiNodeCases : IAsyncLifetime
{
    private string _database = "";
    private ServerProcess.Deployment _deployment = null!;

    protected abstract TestDatabase Database { get; }

    public async Task InitializeAsync()
    {
        if ((Database == TestDatabase.SqlServer ? TestDatabases.SqlServerServer : TestDatabases.PostgreSqlServer) is null) return;
        _database = await TestDatabases.CreateDatabaseAsync(Database);
        _deployment = new ServerProcess.Deployment(Directory.CreateTempSubdirectory("cratus-nodes-").FullName, targetParticipants: 300);
    }

    public async Task DisposeAsync()
    {
        if (_database.Length > 0) await TestDatabases.DropDatabaseAsync(Database, _database);
    }

    private Dictionary<string, string> Settings(string node) => _deployment.Settings(node, new Dictionary<string, string>
    {
        ["Database:Provider"] = Database.ToString(),
        ["Database:ConnectionString"] = _database,
    });

    /// <summary>
    /// A call as a client that follows the contract makes it: UNAVAILABLE ("nothing was stored; retry with the same
    /// request_id", e.g. a connection not opened in time on a loaded machine) is retried with the same request, a few times.
    /// </summary>
    private static async Task<T> AsTheContractSaysAsync<T>(Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && attempt < 5)
            {
                await Task.Delay(200 * attempt);
            }
        }
    }

    [ProviderFact]
    public async Task ThreeHundredRandomizationsAcrossTwoNodes_FiftyCallers_OneConsistentAllocationAndOneAuditChain()
    {
        await using var nodeA = await ServerProcess.StartAsync(Settings("a"));
        await using var nodeB = await ServerProcess.StartAsync(Settings("b"));
        var site = nodeA.Token(TrialRole.SiteCoordinator, "UM");
        var sites = new[] { nodeA, nodeB }.Select(n => n.As(site).Randomization).ToArray();
        await nodeA.As(TrialRole.Statistician).Schedule.GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "multi-node test" });

        var answers = new ConcurrentDictionary<int, BlindedAssignment>();
        var retriesMatched = 0;
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < 300)
            {
                var request = Requests.Randomize($"N{i:D3}", i % 3 == 0 ? Sex.Female : Sex.Male, requestId: $"00000000-0000-4000-8001-{i:D12}");
                var first = await AsTheContractSaysAsync(() => sites[i % 2].RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(60)).ResponseAsync);
                answers[i] = first.Assignment;
                if (i % 7 == 0)
                {
                    // The same request again, on the other node: the first answer, not a second entry.
                    var retry = await AsTheContractSaysAsync(() => sites[(i + 1) % 2].RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(60)).ResponseAsync);
                    Assert.Equal(first.Assignment, retry.Assignment);
                    Interlocked.Increment(ref retriesMatched);
                }
            }
        }));

        Assert.Equal(300, answers.Count);
        Assert.Equal(43, retriesMatched);
        Assert.Equal(300, answers.Values.Select(a => a.ParticipantId).Distinct().Count());
        Assert.Equal(300, answers.Values.Select(a => a.RandomizationNumber).Distinct().Count());
        foreach (var stratum in answers.Values.GroupBy(a => a.RandomizationNumber[..4]))
        {
            var sequences = stratum.Select(a => int.Parse(a.RandomizationNumber[4..], CultureInfo.InvariantCulture)).Order().ToList();
            Assert.Equal(Enumerable.Range(1, sequences.Count), sequences);
        }
        Assert.Equal(100, answers.Values.Count(a => a.RandomizationNumber.StartsWith("R01-", StringComparison.Ordinal)));

        var trial = await nodeB.As(site).Trial.GetTrialAsync(new GetTrialRequest());
        Assert.Equal(300, trial.RandomizedParticipants);
        var audit = nodeB.As(TrialRole.Monitor).Audit;
        var verification = await audit.VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
        Assert.True(verification.Intact, verification.Problem);
        Assert.Equal(302, verification.EventsChecked); // the statistician's re-authentication, the signed schedule and 300 randomizations, in one chain
        var refused = await Assert.ThrowsAsync<RpcException>(() => sites[0].RandomizeAsync(Requests.Randomize("N-over")).ResponseAsync);
        Assert.Contains("target of 300", refused.Status.Detail, StringComparison.Ordinal);
    }
}
