using System.Collections.Concurrent;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Persistence.Sqlite;

/// <summary>The model on SQLite, with the migrations in this folder.</summary>
public sealed class SqliteTrialDbContext(DbContextOptions<SqliteTrialDbContext> options) : TrialDbContext(options)
{
    // One writer at a time per database file in this process. SQLite allows one writer anyway, and a writer that
    // finds the file locked polls for it with sleeps; queueing here instead keeps waits short and fair.
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Turns = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, WriteAheadLogFlusher> Flushers = new(StringComparer.Ordinal);

    /// <summary>
    /// Writers take turns, and commit as a group. In its turn a writer commits to the write-ahead log without waiting
    /// for the disk (synchronous=NORMAL for this one transaction) and hands the turn on; then the log is flushed to
    /// disk (fsync) before the caller hears of the commit. Commits made while a flush runs share the next flush, so
    /// one flush covers many commits and the next writer's work overlaps this one's wait for the disk. A commit is
    /// acknowledged only after a flush that began after it: the guarantee of synchronous=FULL. The log is one file
    /// written in order, so a commit that is on disk has every earlier commit on disk with it.
    /// </summary>
    public override async Task<T> WriteAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken ct)
    {
        var connection = (SqliteConnection)Database.GetDbConnection();
        var turn = Turns.GetOrAdd(connection.ConnectionString, _ => new SemaphoreSlim(1, 1));
        await turn.WaitAsync(ct);
        T result;
        try
        {
            await Database.OpenConnectionAsync(ct);
            try
            {
                // The level can only change outside a transaction.
                await SetSynchronousAsync(connection, "NORMAL", ct);
                await using var transaction = await Database.BeginTransactionAsync(ct);
                result = await work(ct);
                await SaveChangesAsync(ct);
                await transaction.CommitAsync(ct);
            }
            finally
            {
                await RestoreDurableCommitsAsync(connection);
                await Database.CloseConnectionAsync();
            }
        }
        finally
        {
            turn.Release();
        }
        // Not cut short by the call's token: the commit has happened, and the caller must not hear "nothing was stored".
        // The flush is one fsync of a local file, shared by every writer waiting.
        await Flushers.GetOrAdd(connection.DataSource, path => new WriteAheadLogFlusher(path + "-wal")).FlushAsync();
        return result;
    }

    /// <summary>Every other write on this connection waits for the disk in its commit, as before.</summary>
    private static async Task RestoreDurableCommitsAsync(SqliteConnection connection)
    {
        try
        {
            await SetSynchronousAsync(connection, "FULL", CancellationToken.None);
        }
        catch (SqliteException)
        {
            // A connection that cannot be set back is closed rather than handed out again.
            SqliteConnection.ClearPool(connection);
        }
    }

    private static async Task SetSynchronousAsync(SqliteConnection connection, string level, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA synchronous=" + level;
        await command.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>
/// Flushes a write-ahead log file to disk for everyone waiting, one flush at a time: whoever asks while a flush runs
/// is served by the next one, which begins after their commit was written.
/// </summary>
internal sealed class WriteAheadLogFlusher
{
    private readonly Batches<bool> _flushes;

    public WriteAheadLogFlusher(string path) => _flushes = new Batches<bool>(_ =>
    {
        Flush(path);
        return Task.CompletedTask;
    });

    public Task FlushAsync() => _flushes.AddAsync(true);

    private static void Flush(string path)
    {
        try
        {
            using var log = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            log.Flush(flushToDisk: true);
        }
        catch (FileNotFoundException)
        {
            // SQLite removes the log only when its last connection closes, after copying every commit into the
            // database file and flushing that file: the commits are on disk already.
        }
        catch (Exception ex)
        {
            // Whatever went wrong, the waiters hear of it (as UNAVAILABLE) and the next flush is tried afresh.
            throw new IOException("The write-ahead log could not be flushed to disk.", ex);
        }
    }
}

internal static class SqlitePersistence
{
    public static void AddSqlitePersistence(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DurableSqliteInterceptor>();
        builder.Services.AddSingleton<IStartupLock>(services => new SqliteStartupLock(
            Path.GetFullPath(services.GetRequiredService<IOptions<DatabaseOptions>>().Value.SqlitePath, builder.Environment.ContentRootPath) + ".startup-lock"));
        // Pooled contexts: the options are built once, not on every call.
        builder.Services.AddDbContextPool<TrialDbContext, SqliteTrialDbContext>((services, options) =>
        {
            var path = Path.GetFullPath(services.GetRequiredService<IOptions<DatabaseOptions>>().Value.SqlitePath, builder.Environment.ContentRootPath);
            options.UseSqlite(ConnectionString(path)).AddInterceptors(services.GetRequiredService<DurableSqliteInterceptor>()).QuietExpectedConflicts();
        });
    }

    internal static string ConnectionString(string path) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Pooling = true,
        // Seconds a command waits for another writer's lock before giving up.
        DefaultTimeout = 5,
    }.ToString();
}

/// <summary>
/// Every SQLite connection runs in WAL mode with synchronous=FULL, so a commit that returned is on disk and
/// survives a crash or power loss (synchronous=NORMAL in WAL mode may lose the last commits; the write turn uses it
/// only with a flush of its own, see <see cref="SqliteTrialDbContext.WriteAsync{T}"/>). Transactions begin
/// IMMEDIATE (Microsoft.Data.Sqlite's default), so writers queue for the one write lock instead of failing. The
/// settings belong to the native connection, which the pool keeps open, so they are applied once per native
/// connection, not on every open from the pool.
/// </summary>
internal sealed class DurableSqliteInterceptor : DbConnectionInterceptor
{
    private const string Pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;";

    private readonly ConditionalWeakTable<SQLitePCL.sqlite3, object> _configured = [];

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        if (!NeedsSettings(connection)) return;
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
        Remember(connection);
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        if (!NeedsSettings(connection)) return;
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
        Remember(connection);
    }

    private bool NeedsSettings(DbConnection connection) =>
        ((SqliteConnection)connection).Handle is not { } native || !_configured.TryGetValue(native, out _);

    private void Remember(DbConnection connection)
    {
        if (((SqliteConnection)connection).Handle is { } native) _configured.AddOrUpdate(native, this);
    }
}

/// <summary>
/// The start-up lock on SQLite: an exclusive lock on a file beside the database (an operating-system file lock,
/// released when the process ends, however it ends). SQLite serves one node, but two processes started on one file
/// by mistake must not migrate or seed it at the same time either.
/// </summary>
internal sealed class SqliteStartupLock(string path) : IStartupLock
{
    public async Task<IAsyncDisposable> AcquireAsync(CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                // Another process holds it.
                await Task.Delay(100, ct);
            }
        }
    }
}

/// <summary>Lets `dotnet ef migrations add ... --context SqliteTrialDbContext` build the model without a server.</summary>
internal sealed class DesignTimeSqliteFactory : IDesignTimeDbContextFactory<SqliteTrialDbContext>
{
    public SqliteTrialDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteTrialDbContext>().UseSqlite("Data Source=design-time.db").Options);
}
