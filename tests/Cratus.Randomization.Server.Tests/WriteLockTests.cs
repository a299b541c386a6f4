using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Npgsql;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// Writers on PostgreSQL are serialized only where they must be (WriteLock): a randomization waits for the list of its
/// own stratum, never for another stratum's; everything waits for the audit tail and for a whole-trial write; reads wait
/// for nothing. Each case holds one lock in a transaction of its own, as a person (or a stalled node) could, and sees
/// from PostgreSQL's own lock table that a call is queued on exactly that lock: no timing is guessed.
/// </summary>
public sealed class WriteLockTests : OnEachDatabase, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [ProviderFact]
    public async Task AStratumHeld_RandomizesTheOtherStratum_AndQueuesItsOwnUntilReleased()
    {
        await using var server = await ServerWithScheduleAsync();
        await using var holder = await HoldAsync(server, WriteLock.Stratum("UM/F"));

        // Another stratum proceeds while UM/F is held: it completes (a block would run into the deadline).
        var man = await server.Site().RandomizeAsync(Requests.Randomize("MAN-1", Sex.Male), deadline: DateTime.UtcNow.Add(Patience));
        Assert.Equal("R02-001", man.Assignment.RandomizationNumber);

        // Its own stratum queues on that very lock, and is not answered while it is held.
        var woman = server.Site().RandomizeAsync(Requests.Randomize("WOMAN-1", Sex.Female), deadline: DateTime.UtcNow.Add(Patience)).ResponseAsync;
        await WaitUntilQueuedOnAsync(holder, WriteLock.Stratum("UM/F"));
        Assert.False(woman.IsCompleted);
        // A read proceeds meanwhile.
        Assert.Equal(man.Assignment, (await server.Site().GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = man.Assignment.ParticipantId })).Assignment);

        await holder.RollbackAsync();
        Assert.Equal("R01-001", (await woman).Assignment.RandomizationNumber);
    }

    [ProviderFact]
    public async Task TheAuditTailHeld_QueuesEveryStratum_ButNotReads()
    {
        await using var server = await ServerWithScheduleAsync();
        var first = await server.Site().RandomizeAsync(Requests.Randomize("FIRST", Sex.Female));
        await using var holder = await HoldAsync(server, WriteLock.AuditTail);

        var woman = server.Site().RandomizeAsync(Requests.Randomize("WOMAN-2", Sex.Female), deadline: DateTime.UtcNow.Add(Patience)).ResponseAsync;
        var man = server.Site().RandomizeAsync(Requests.Randomize("MAN-2", Sex.Male), deadline: DateTime.UtcNow.Add(Patience)).ResponseAsync;
        await WaitUntilQueuedOnAsync(holder, WriteLock.AuditTail, waiters: 2);
        Assert.False(woman.IsCompleted);
        Assert.False(man.IsCompleted);
        Assert.Equal(first.Assignment, (await server.Site().GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = first.Assignment.ParticipantId })).Assignment);

        await holder.RollbackAsync();
        Assert.Equal("R01-002", (await woman).Assignment.RandomizationNumber);
        Assert.Equal("R02-001", (await man).Assignment.RandomizationNumber);
        var verification = await server.As(TrialRole.Monitor).Audit.VerifyAuditTrailAsync(new VerifyAuditTrailRequest());
        Assert.True(verification.Intact, verification.Problem);
    }

    [ProviderFact]
    public async Task AWholeTrialWriteInProgress_QueuesRandomizations_AndAStratumHeld_QueuesAWholeTrialWrite()
    {
        await using var server = await ServerWithScheduleAsync();
        await using (var whole = await HoldAsync(server, WriteLock.Trial(shared: false)))
        {
            var man = server.Site().RandomizeAsync(Requests.Randomize("MAN-3", Sex.Male), deadline: DateTime.UtcNow.Add(Patience)).ResponseAsync;
            await WaitUntilQueuedOnAsync(whole, WriteLock.Trial(shared: true));
            Assert.False(man.IsCompleted);
            await whole.RollbackAsync();
            Assert.Equal("R02-001", (await man).Assignment.RandomizationNumber);
        }

        // The other way round: a randomization in progress (the trial shared) holds off a whole-trial write (an
        // administrator closing a site), which would otherwise change what the randomization decided on.
        await using var randomizing = await HoldAsync(server, WriteLock.Trial(shared: true));
        var close = server.As(TrialRole.Administrator).Administration.UpdateSiteAsync(
            new UpdateSiteRequest { Code = "UM", Active = false, Reason = "write lock test" }, deadline: DateTime.UtcNow.Add(Patience)).ResponseAsync;
        await WaitUntilQueuedOnAsync(randomizing, WriteLock.Trial(shared: false));
        Assert.False(close.IsCompleted);
        await randomizing.RollbackAsync();
        await close;
    }

    [Fact]
    public void LocksAreNamedOnce_AndEachStratumHasItsOwnKey()
    {
        Assert.Equal(WriteLock.Stratum("UM/F"), WriteLock.Stratum("UM/F"));
        Assert.NotEqual(WriteLock.Stratum("UM/F").Key, WriteLock.Stratum("UM/M").Key);
        Assert.Equal("cratus:stratum:UM/F", WriteLock.Stratum("UM/F").Name);
        Assert.Equal(7301948265, WriteLock.Trial(shared: true).Key);
        Assert.True(WriteLock.Trial(shared: false).Rank < WriteLock.Stratum("UM/F").Rank);
        Assert.True(WriteLock.DoseEscalationPlaces.Rank < WriteLock.AuditTail.Rank);
        Assert.DoesNotContain(WriteLock.AuditTail.Key, new[] { WriteLock.TrialKey, WriteLock.DoseEscalationPlaces.Key, WriteLock.Stratum("UM/F").Key });
    }

    private async Task<TrialServer> ServerWithScheduleAsync()
    {
        var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "write lock test" });
        return server;
    }

    /// <summary>An open transaction on the server's database holding <paramref name="writeLock"/> as the server takes it.</summary>
    private static async Task<Held> HoldAsync(TrialServer server, WriteLock writeLock)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server.DatabaseLocation) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var take = new NpgsqlCommand($"SELECT pg_advisory_xact_lock{(writeLock.Shared ? "_shared" : "")}({writeLock.Key})", connection, transaction);
        await take.ExecuteNonQueryAsync();
        return new Held(connection, transaction);
    }

    /// <summary>Waits (polling PostgreSQL's lock table) until <paramref name="waiters"/> sessions wait for the advisory
    /// lock of <paramref name="writeLock"/>'s key in its mode; fails after a minute.</summary>
    private static async Task WaitUntilQueuedOnAsync(Held held, WriteLock writeLock, int waiters = 1)
    {
        var key = (ulong)writeLock.Key;
        await using var ask = new NpgsqlCommand("""
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
               AND classid::bigint = @high AND objid::bigint = @low AND mode = @mode
            """, held.Connection, held.Transaction);
        ask.Parameters.AddWithValue("high", (long)(key >> 32));
        ask.Parameters.AddWithValue("low", (long)(key & 0xFFFFFFFF));
        ask.Parameters.AddWithValue("mode", writeLock.Shared ? "ShareLock" : "ExclusiveLock");
        for (var deadline = DateTime.UtcNow + Patience; DateTime.UtcNow < deadline; await Task.Delay(50))
            if ((long)(await ask.ExecuteScalarAsync())! >= waiters) return;
        Assert.Fail($"no call queued on {writeLock.Name}");
    }

    private sealed class Held(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public NpgsqlConnection Connection => connection;
        public NpgsqlTransaction Transaction => transaction;

        public Task RollbackAsync() => transaction.RollbackAsync();

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}
