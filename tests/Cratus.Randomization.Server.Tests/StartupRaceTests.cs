using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// Several nodes started at the same moment on an empty database: one migrates and seeds, the others wait for it, and
/// every node comes up serving on one schema with one set of sites and one bootstrap secret.
/// </summary>
[Trait("Category", "Slow")]
[Collection(OneServerProcessTestAtATime.Name)]
public sealed class StartupRaceTests : StartupRaceCases, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

/// <summary>The start-up race on SQL Server: its start-up lock (a session-owned sp_getapplock) and its database creation.</summary>
[Trait("Category", "Slow")]
[Collection(OneServerProcessTestAtATime.Name)]
public sealed class StartupRaceTestsOnSqlServer : StartupRaceCases, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}

/// <summary>The start-up race on one database server (see the subclasses).</summary>
public abstract class StartupRaceCases
{
    private const int Rounds = 10;
    private const int Nodes = 3;

    protected abstract TestDatabase Database { get; }

    [ProviderFact]
    public async Task Start_ThreeNodesAtOnceOnAnEmptyDatabase_AllServeEveryRound()
    {
        var deployment = new ServerProcess.Deployment(Directory.CreateTempSubdirectory("cratus-startup-race-").FullName, targetParticipants: 30);
        for (var round = 1; round <= Rounds; round++)
        {
            // Arrange
            // SQL Server: a database that does not exist yet, so that the nodes race to create it too (the losers get error 1801).
            var database = Database == TestDatabase.SqlServer
                ? new Microsoft.Data.SqlClient.SqlConnectionStringBuilder(TestDatabases.SqlServerServer) { InitialCatalog = "cratus_test_" + Guid.NewGuid().ToString("N") }.ConnectionString
                : await TestDatabases.CreateDatabaseAsync(Database);
            var settings = new Dictionary<string, string> { ["Database:Provider"] = Database.ToString(), ["Database:ConnectionString"] = database };
            var starting = Enumerable.Range(0, Nodes).Select(n => ServerProcess.StartAsync(deployment.Settings($"r{round}n{n}", settings),
                // Three processes start at once on a small machine: the limit is for a node that never comes up, not a slow one.
                startLimit: TimeSpan.FromSeconds(180))).ToList();
            try
            {
                // Act
                var nodes = await Task.WhenAll(starting);

                // Assert: each node serves a call that reads the seeded sites from the database.
                var token = nodes[0].Token(TrialRole.Monitor);
                foreach (var node in nodes)
                {
                    var trial = await new TrialService.TrialServiceClient(node.Channel(token)).GetTrialAsync(new GetTrialRequest(), deadline: DateTime.UtcNow.AddSeconds(20));
                    Assert.NotEmpty(trial.Sites);
                }
            }
            catch (Exception ex)
            {
                throw new Xunit.Sdk.XunitException($"round {round} of {Rounds}: {ex.Message}");
            }
            finally
            {
                foreach (var start in starting)
                {
                    try
                    {
                        await using var node = await start;
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
                    {
                        // It did not come up, and ServerProcess.StartAsync has stopped it.
                    }
                }
                await TestDatabases.DropDatabaseAsync(Database, database);
            }
        }
    }
}
