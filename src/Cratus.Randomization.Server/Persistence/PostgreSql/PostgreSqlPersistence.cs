using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Persistence.PostgreSql;

/// <summary>The model on PostgreSQL, with the migrations in this folder.</summary>
public sealed class PostgreSqlTrialDbContext(DbContextOptions<PostgreSqlTrialDbContext> options) : TrialDbContext(options);

internal static class PostgreSqlPersistence
{
    public static void AddPostgreSqlPersistence(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SerializedWritesInterceptor>();
        // Pooled contexts: the options are built once, not on every call.
        builder.Services.AddDbContextPool<TrialDbContext, PostgreSqlTrialDbContext>((services, options) =>
            options.UseNpgsql(services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString)
                .AddInterceptors(services.GetRequiredService<SerializedWritesInterceptor>()).QuietExpectedConflicts());
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

/// <summary>Lets `dotnet ef migrations add ... --context PostgreSqlTrialDbContext` build the model without a server.</summary>
internal sealed class DesignTimePostgreSqlFactory : IDesignTimeDbContextFactory<PostgreSqlTrialDbContext>
{
    public PostgreSqlTrialDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgreSqlTrialDbContext>().UseNpgsql("Host=localhost;Database=cratus_design_time").Options);
}
