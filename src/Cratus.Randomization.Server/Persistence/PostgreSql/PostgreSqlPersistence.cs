using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cratus.Randomization.Server.Persistence.PostgreSql;

/// <summary>The model on PostgreSQL, with the migrations in this folder.</summary>
public sealed class PostgreSqlTrialDbContext(DbContextOptions<PostgreSqlTrialDbContext> options) : TrialDbContext(options);

internal static class PostgreSqlPersistence
{
    public static void AddPostgreSqlPersistence(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SerializedWritesInterceptor>();
        builder.Services.AddSingleton<IStartupLock, PostgreSqlStartupLock>();
        // Pooled contexts: the options are built once, not on every call.
        builder.Services.AddDbContextPool<TrialDbContext, PostgreSqlTrialDbContext>((services, options) =>
            options.UseNpgsql(WithHangLimits(services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString))
                .AddInterceptors(services.GetRequiredService<SerializedWritesInterceptor>()).QuietExpectedConflicts());
    }

    /// <summary>
    /// Bounds what a hung server (connections accepted, nothing answered) can cost a call, unless the connection string
    /// says otherwise. When a call's token fires, Npgsql first delivers a cancel request on a new connection and waits
    /// for the server to close it, for at most the connect timeout; on a hung server that whole wait is spent, so the
    /// connect timeout is kept short (1 s: a PostgreSQL on the same network opens in milliseconds), and the
    /// cancellation timeout is -1 so that the connection is dropped at once after that instead of waiting 2 s more for
    /// an answer. A dropped connection is never returned to the pool.
    /// </summary>
    internal static string WithHangLimits(string connectionString)
    {
        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        if (!given.ContainsKey("Timeout") && !given.ContainsKey("Connection Timeout") && !given.ContainsKey("Connect Timeout")) settings.Timeout = 1;
        if (!given.ContainsKey("Cancellation Timeout")) settings.CancellationTimeout = -1;
        return settings.ConnectionString;
    }
}

/// <summary>
/// Every write transaction, on every node, first takes one transaction-scoped advisory lock, so writes run one at a
/// time as they do on SQLite: "the next entry of the stratum", "the next place of the cohort", "the next audit
/// sequence number" and "fewer than the target" are then decided on a settled state, and audit appends from all
/// nodes form one chain. The lock is released by the commit or rollback (or when a crashed node's connection drops).
/// </summary>
internal sealed class SerializedWritesInterceptor : DbTransactionInterceptor
{
    // An arbitrary constant that names "the CRATUS write lock" among the database's advisory locks.
    private const string TakeWriteLock = "SELECT pg_advisory_xact_lock(7301948265)";

    public override DbTransaction TransactionStarted(DbConnection connection, TransactionEndEventData eventData, DbTransaction result)
    {
        using var command = connection.CreateCommand();
        command.Transaction = result;
        command.CommandText = TakeWriteLock;
        command.ExecuteNonQuery();
        return result;
    }

    public override async ValueTask<DbTransaction> TransactionStartedAsync(
        DbConnection connection, TransactionEndEventData eventData, DbTransaction result, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = result;
        command.CommandText = TakeWriteLock;
        await command.ExecuteNonQueryAsync(cancellationToken);
        return result;
    }
}

/// <summary>
/// The start-up lock on PostgreSQL: a session-level advisory lock, held on a connection of its own for as long as the
/// node migrates and seeds (migrations run their own transactions, so a transaction-scoped lock cannot span them). A
/// node that dies holding it loses its connection, and the lock with it.
/// </summary>
internal sealed class PostgreSqlStartupLock(IOptions<DatabaseOptions> options) : IStartupLock
{
    // Another arbitrary constant, distinct from the write lock's: "the CRATUS start-up lock".
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
