using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// SQLite writers commit as a group: in the write turn the commit is made with synchronous=NORMAL, and the log is
/// flushed after it. Every connection the pool hands out afterwards must be back at synchronous=FULL, so that writes
/// outside the turn (sign-in, accounts) still wait for the disk in their commit.
/// </summary>
public sealed class GroupCommitTests : OnEachDatabase
{
    protected override TestDatabase Database => TestDatabase.Sqlite;

    [Fact]
    public async Task AfterConcurrentRandomizations_EveryPooledConnectionCommitsDurably_AndAllAreStored()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "group commit test" });
        var site = server.Site();
        var replies = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => site.RandomizeAsync(Requests.Randomize($"G{i}")).ResponseAsync));
        Assert.Equal(30, replies.Select(r => r.Assignment.RandomizationNumber).Distinct().Count());

        // Take several connections out of the pool at once (the writers' among them) and ask each for its level.
        var scopes = Enumerable.Range(0, 8).Select(_ => server.Services.CreateAsyncScope()).ToList();
        try
        {
            foreach (var scope in scopes)
            {
                var db = scope.ServiceProvider.GetRequiredService<TrialDbContext>();
                await db.Database.OpenConnectionAsync();
                await using var command = db.Database.GetDbConnection().CreateCommand();
                command.CommandText = "PRAGMA synchronous";
                Assert.Equal(2L, await command.ExecuteScalarAsync()); // 2 = FULL
            }
        }
        finally
        {
            foreach (var scope in scopes) await scope.DisposeAsync();
        }
        Assert.Equal(30L, Convert.ToInt64((await server.QueryAsync("""SELECT COUNT(*) FROM "Participants" """))[0][0], System.Globalization.CultureInfo.InvariantCulture));
    }
}
