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
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> Turns = new(StringComparer.Ordinal);

    public override async Task<IDisposable> EnterWriteAsync(CancellationToken ct)
    {
        var turn = Turns.GetOrAdd(Database.GetConnectionString() ?? "", _ => new SemaphoreSlim(1, 1));
        await turn.WaitAsync(ct);
        return new Turn(turn);
    }

    private sealed class Turn(SemaphoreSlim turn) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) turn.Release();
        }
    }
}

internal static class SqlitePersistence
{
    public static void AddSqlitePersistence(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DurableSqliteInterceptor>();
        // Pooled contexts: the options are built once, not on every call.
        builder.Services.AddDbContextPool<TrialDbContext, SqliteTrialDbContext>((services, options) =>
        {
            var path = Path.GetFullPath(services.GetRequiredService<IOptions<DatabaseOptions>>().Value.SqlitePath, builder.Environment.ContentRootPath);
            options.UseSqlite(ConnectionString(path)).AddInterceptors(services.GetRequiredService<DurableSqliteInterceptor>());
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
/// survives a crash or power loss (synchronous=NORMAL in WAL mode may lose the last commits). Transactions begin
/// IMMEDIATE (Microsoft.Data.Sqlite's default), so writers queue for the one write lock instead of failing.
/// Reads go through a memory map: a write by one connection empties the page cache of all the others, and the map
/// makes reading the pages again cheap. The settings belong to the native connection, which the pool keeps open, so
/// they are applied once per native connection, not on every open from the pool.
/// </summary>
internal sealed class DurableSqliteInterceptor : DbConnectionInterceptor
{
    private const string Pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA mmap_size=268435456;";

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

/// <summary>Lets `dotnet ef migrations add ... --context SqliteTrialDbContext` build the model without a server.</summary>
internal sealed class DesignTimeSqliteFactory : IDesignTimeDbContextFactory<SqliteTrialDbContext>
{
    public SqliteTrialDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteTrialDbContext>().UseSqlite("Data Source=design-time.db").Options);
}
