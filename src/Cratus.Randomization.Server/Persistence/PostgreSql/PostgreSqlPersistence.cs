using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cratus.Randomization.Server.Persistence.PostgreSql;

/// <summary>
/// The model on PostgreSQL, with the migrations in this folder. Writers are serialized by transaction-scoped advisory
/// locks (<see cref="WriteLock"/>: the trial, one stratum or Phase I's places, the audit tail), and a write that holds
/// locks commits without waiting for the disk and waits for it after its locks are released (<see cref="WriteAsync{T}"/>).
/// </summary>
public sealed class PostgreSqlTrialDbContext(DbContextOptions<PostgreSqlTrialDbContext> options) : TrialDbContext(options)
{
    // Whether the write now running committed without waiting for the disk, and so must wait for it after.
    private bool _commitIsNotYetDurable;

    // The locks asked for and not yet sent: they go to the database at the head of the next command this context sends.
    private readonly System.Text.StringBuilder _pendingLocks = new();

    /// <summary>
    /// pg_advisory_xact_lock(key), or its _shared form: held until the transaction ends (commit, rollback, or the
    /// connection of a crashed node dropping). Not sent on its own: it is queued, and sent at the head of the next
    /// command of this transaction (<see cref="PendingLocksInterceptor"/>), in the same round trip as the read it
    /// settles. The statements of one command run in order, each on a snapshot taken when it starts, so that read still
    /// sees everything committed before the lock was granted, exactly as if the lock had been its own round trip; and
    /// nothing of this transaction reaches the database before the locks asked for before it. The first lock of a
    /// write goes with "SET LOCAL synchronous_commit TO off" (see <see cref="WriteAsync{T}"/>), when the flush after
    /// the commit is possible. A randomization so sends its trial and stratum locks with its first admission read,
    /// and the audit tail with the read of the totals under it: three round trips fewer.
    /// </summary>
    protected override async Task TakeLockAsync(WriteLock writeLock, bool firstOfTransaction, CancellationToken ct)
    {
        var transaction = Database.CurrentTransaction!.GetDbTransaction();
        if (firstOfTransaction && await DurableAfterCommit.IsPossibleAsync(transaction.Connection!, ct))
        {
            _pendingLocks.Append("SET LOCAL synchronous_commit TO off;");
            _commitIsNotYetDurable = true;
        }
        // A DO block returns no rows, so the reader of the command it heads still starts at the command's own result.
        _pendingLocks.Append(System.Globalization.CultureInfo.InvariantCulture, $"DO $$BEGIN PERFORM pg_advisory_xact_lock{(writeLock.Shared ? "_shared" : "")}({writeLock.Key}); END$$;");
    }

    /// <summary>The locks queued since the last command (the SQL that takes them), and none queued after this.</summary>
    internal string? TakePendingLocks()
    {
        if (_pendingLocks.Length == 0) return null;
        var sql = _pendingLocks.ToString();
        _pendingLocks.Clear();
        return sql;
    }

    /// <summary>
    /// Locks are released only once the commit is over, and a durable commit waits for the disk (fsync) first: held
    /// through it, the audit tail would make every write of every node wait for every other's fsync, one at a time. So
    /// a write that took locks commits with synchronous_commit off (the commit is visible, and its locks released, at
    /// once), and then, before the caller hears of it, waits for a flush of the write-ahead log that covers it: the
    /// same guarantee as synchronous_commit=on, as SQLite's write turn does (<see cref="Sqlite.SqliteTrialDbContext"/>).
    /// The log is written in order, so a commit that is on disk has every commit it saw (the audit events it links to
    /// among them) on disk with it; concurrent flushes share one fsync (PostgreSQL's group commit); and with a
    /// synchronous standby the flush waits for the standby too. A node that dies between its commit and the flush
    /// leaves a commit that the server flushes moments later; its caller had no answer and retries with its request id.
    /// </summary>
    public override async Task<T> WriteAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken ct)
    {
        _commitIsNotYetDurable = false;
        _pendingLocks.Clear();
        await Database.OpenConnectionAsync(ct);
        try
        {
            T result;
            await using (var transaction = await Database.BeginTransactionAsync(ct))
            {
                result = await work(ct);
                await SaveChangesAsync(ct);
                await transaction.CommitAsync(ct);
            }
            // Not cut short by the call's token: the commit has happened, and the caller must not hear "nothing was stored".
            if (_commitIsNotYetDurable) await DurableAfterCommit.WaitAsync(Database.GetDbConnection());
            return result;
        }
        finally
        {
            _commitIsNotYetDurable = false;
            _pendingLocks.Clear();
            await Database.CloseConnectionAsync();
        }
    }
}

/// <summary>
/// Waiting, after a commit made with synchronous_commit off, for the write-ahead log to be on disk up to it: a
/// transaction of its own that writes one record to the log (a transactional logical message, which any role may
/// emit, with no table behind it) and commits durably, so that its commit flushes the log up to its own record, which
/// comes after the earlier commit's.
/// </summary>
internal static class DurableAfterCommit
{
    // Learnt once per database (an answer, never a failure): where the function is not granted, or commits do not wait
    // for the disk anyway, every write commits as it is configured to.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Possible = new(StringComparer.Ordinal);

    /// <summary>Whether a write on this database may commit first and wait for the disk after.</summary>
    public static async Task<bool> IsPossibleAsync(DbConnection connection, CancellationToken ct)
    {
        if (Possible.TryGetValue(connection.ConnectionString, out var known)) return known;
        await using var ask = connection.CreateCommand();
        ask.CommandText = "SELECT has_function_privilege('pg_logical_emit_message(boolean,text,text)', 'execute') AND current_setting('synchronous_commit') <> 'off'";
        var possible = (bool)(await ask.ExecuteScalarAsync(ct))!;
        Possible[connection.ConnectionString] = possible;
        return possible;
    }

    /// <summary>Returns once the write-ahead log is on disk past every commit this connection made before.</summary>
    public static async Task WaitAsync(DbConnection connection)
    {
        try
        {
            await using var flush = connection.CreateCommand();
            flush.CommandText = "SELECT pg_logical_emit_message(true, 'cratus', 'durable')";
            await flush.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (DbException ex)
        {
            // As for a failed flush on SQLite: UNAVAILABLE, and the caller's retry with its request id gets the stored answer.
            throw new IOException("The database did not confirm that the write is on disk.", ex);
        }
    }
}

/// <summary>
/// Puts the write locks queued by <see cref="PostgreSqlTrialDbContext.TakeLockAsync"/> at the head of the next command
/// the context makes, whatever it is (a query, a save, a scalar), once its text is set and before it is sent: the locks
/// are taken in the same round trip, before it.
/// </summary>
internal sealed class PendingLocksInterceptor : DbCommandInterceptor
{
    public static readonly PendingLocksInterceptor Instance = new();

    public override DbCommand CommandInitialized(CommandEndEventData eventData, DbCommand result)
    {
        if (eventData.Context is PostgreSqlTrialDbContext context && context.TakePendingLocks() is { } locks)
            result.CommandText = locks + result.CommandText;
        return result;
    }
}

internal static class PostgreSqlPersistence
{
    public static void AddPostgreSqlPersistence(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IStartupLock, PostgreSqlStartupLock>();
        // Pooled contexts: the options are built once, not on every call.
        builder.Services.AddDbContextPool<TrialDbContext, PostgreSqlTrialDbContext>((services, options) =>
            options.UseNpgsql(WithServerDefaults(services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString))
                .AddInterceptors(PendingLocksInterceptor.Instance)
                .QuietExpectedConflicts());
    }

    /// <summary>
    /// The connection settings the server runs with, each unless the connection string says otherwise.
    /// <para>What a hung server (connections accepted, nothing answered) can cost a call is bounded. When a call's token
    /// fires, Npgsql first delivers a cancel request on a new connection and waits for the server to close it, for at
    /// most the connect timeout; on a hung server that whole wait is spent, so the connect timeout is kept short (1 s: a
    /// PostgreSQL on the same network opens in milliseconds), and the cancellation timeout is -1 so that the connection
    /// is dropped at once after that instead of waiting 2 s more for an answer. A dropped connection is never returned
    /// to the pool.</para>
    /// <para>The statements the server sends again and again (a randomization's dozen, a read's two) are prepared on
    /// each pooled connection after their second use (Max Auto Prepare), so PostgreSQL stops parsing and planning them
    /// on every call; and a connection returned to the pool is not reset (No Reset On Close): the server keeps no session
    /// state on pooled connections (its settings are SET LOCAL, its write locks end with their transaction; the start-up
    /// lock has an unpooled connection of its own), and a reset would throw the prepared statements away. Measured
    /// together: Randomize on one node from 177 to 277 per second at 32 callers (docs/benchmarks.md).</para>
    /// </summary>
    internal static string WithServerDefaults(string connectionString)
    {
        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        if (!given.ContainsKey("Timeout") && !given.ContainsKey("Connection Timeout") && !given.ContainsKey("Connect Timeout")) settings.Timeout = 1;
        if (!given.ContainsKey("Cancellation Timeout")) settings.CancellationTimeout = -1;
        if (!given.ContainsKey("Max Auto Prepare"))
        {
            settings.MaxAutoPrepare = 64;
            if (!given.ContainsKey("Auto Prepare Min Usages")) settings.AutoPrepareMinUsages = 2;
        }
        if (!given.ContainsKey("No Reset On Close")) settings.NoResetOnClose = true;
        return settings.ConnectionString;
    }
}

/// <summary>
/// The start-up lock on PostgreSQL: a session-level advisory lock, held on a connection of its own for as long as the
/// node migrates and seeds (migrations run their own transactions, so a transaction-scoped lock cannot span them). A
/// node that dies holding it loses its connection, and the lock with it.
/// </summary>
internal sealed class PostgreSqlStartupLock(IOptions<DatabaseOptions> options) : IStartupLock
{
    // Another arbitrary constant, distinct from the write locks' (WriteLock): "the CRATUS start-up lock".
    private const long Key = 7301948266;

    public async Task<IAsyncDisposable> AcquireAsync(CancellationToken ct)
    {
        // Not pooled, and the operator's own timeouts: waiting for another node's migration may take a while.
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(options.Value.ConnectionString) { Pooling = false }.ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            await using var take = new NpgsqlCommand($"SELECT pg_advisory_lock({Key})", connection) { CommandTimeout = 0 };
            await take.ExecuteNonQueryAsync(ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}

/// <summary>Lets `dotnet ef migrations add ... --context PostgreSqlTrialDbContext` build the model without a server.</summary>
internal sealed class DesignTimePostgreSqlFactory : IDesignTimeDbContextFactory<PostgreSqlTrialDbContext>
{
    public PostgreSqlTrialDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgreSqlTrialDbContext>().UseNpgsql("Host=localhost;Database=cratus_design_time").Options);
}
