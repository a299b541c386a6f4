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
        builder.Services.AddHostedService<DatabaseMigrator>();
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

}

/// <summary>
/// Creates the database file's folder and applies every pending migration while the host is starting, before any
/// hosted service (the web server among them) starts: no call is ever served on an old schema. Then seeds what a
/// first start needs (see <see cref="Identity.FirstStart"/>).
/// </summary>
internal sealed class DatabaseMigrator(IServiceProvider services, IOptions<DatabaseOptions> options, IHostEnvironment environment) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(options.Value.SqlitePath, environment.ContentRootPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<TrialDbContext>().Database.MigrateAsync(cancellationToken);
        await scope.ServiceProvider.GetRequiredService<Identity.FirstStart>().RunAsync(cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
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
