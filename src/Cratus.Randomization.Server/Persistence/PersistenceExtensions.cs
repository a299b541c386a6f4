using System.ComponentModel.DataAnnotations;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Persistence;

/// <summary>Where the trial's data lives. Bound from the "Database" section.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary>Path of the SQLite file (the embedded default); relative paths are under the content root.</summary>
    [Required] public string SqlitePath { get; set; } = "data/cratus.db";
}

public static class PersistenceExtensions
{
    public static WebApplicationBuilder AddPersistence(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<DurableSqliteInterceptor>();
        builder.Services.AddDbContext<TrialDbContext>((services, options) =>
        {
            var path = Path.GetFullPath(services.GetRequiredService<IOptions<DatabaseOptions>>().Value.SqlitePath, builder.Environment.ContentRootPath);
            options.UseSqlite(SqliteConnectionString(path))
                .AddInterceptors(services.GetRequiredService<DurableSqliteInterceptor>());
        });
        builder.Services.AddGrpcHealthChecks().AddDbContextCheck<TrialDbContext>();
        return builder;
    }

    internal static string SqliteConnectionString(string path) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Pooling = true,
        // Seconds a command waits for another writer's lock before giving up.
        DefaultTimeout = 15,
    }.ToString();

    /// <summary>Creates the database file's folder and applies every pending migration before the server takes calls.</summary>
    public static async Task MigrateDatabaseAsync(this WebApplication app)
    {
        var path = Path.GetFullPath(app.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value.SqlitePath, app.Environment.ContentRootPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<TrialDbContext>().Database.MigrateAsync();
    }
}

/// <summary>
/// Every SQLite connection runs in WAL mode with synchronous=FULL, so a commit that returned is on disk and
/// survives a crash or power loss (synchronous=NORMAL in WAL mode may lose the last commits).
/// </summary>
internal sealed class DurableSqliteInterceptor : DbConnectionInterceptor
{
    private const string Pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>Lets `dotnet ef migrations add` build the model without starting the server.</summary>
internal sealed class DesignTimeTrialDbContextFactory : IDesignTimeDbContextFactory<TrialDbContext>
{
    public TrialDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<TrialDbContext>().UseSqlite("Data Source=design-time.db").Options);
}
