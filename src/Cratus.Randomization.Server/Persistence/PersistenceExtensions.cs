using Cratus.Randomization.Server.Persistence.PostgreSql;
using Cratus.Randomization.Server.Persistence.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Persistence;

public enum DatabaseProvider
{
    /// <summary>A SQLite file: the embedded default, for one node.</summary>
    Sqlite,
    /// <summary>A PostgreSQL server, shared by any number of nodes.</summary>
    PostgreSql,
}

/// <summary>Where the trial's data lives. Bound from the "Database" section.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>SQLite: path of the file; relative paths are under the content root.</summary>
    public string SqlitePath { get; set; } = "data/cratus.db";

    /// <summary>PostgreSQL: the Npgsql connection string (keep its password in a secret store or the environment).</summary>
    public string ConnectionString { get; set; } = "";
}

public static class PersistenceExtensions
{
    public static WebApplicationBuilder AddPersistence(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.Section)
            .Validate(o => o.Provider != DatabaseProvider.Sqlite || !string.IsNullOrWhiteSpace(o.SqlitePath), "Database:SqlitePath is required for SQLite.")
            .Validate(o => o.Provider != DatabaseProvider.PostgreSql || !string.IsNullOrWhiteSpace(o.ConnectionString),
                "Database:ConnectionString is required when Database:Provider is PostgreSql.")
            .Validate(o => builder.Environment.IsDevelopment() || !UsesRepositoryPassword(o.ConnectionString),
                "Database:ConnectionString uses a sample password from the repository. Outside the Development environment set your own.")
            .ValidateOnStart();
        var provider = builder.Configuration.GetValue(DatabaseOptions.Section + ":" + nameof(DatabaseOptions.Provider), DatabaseProvider.Sqlite);
        if (provider == DatabaseProvider.PostgreSql) builder.AddPostgreSqlPersistence();
        else builder.AddSqlitePersistence();
        builder.Services.AddHostedService<DatabaseMigrator>();
        // gRPC health answers from the result the health-check publisher refreshes every second (database reachable
        // or not), so that load balancers polling it cost no database work and an outage shows within a second.
        builder.Services.AddGrpcHealthChecks(o => o.UseHealthChecksCache = true).AddDbContextCheck<TrialDbContext>();
        builder.Services.Configure<HealthCheckPublisherOptions>(o =>
        {
            o.Delay = TimeSpan.FromSeconds(1);
            o.Period = TimeSpan.FromSeconds(1);
        });
        return builder;
    }

    private static bool UsesRepositoryPassword(string connectionString)
    {
        var parts = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        return parts.TryGetValue("Password", out var password) && Security.DevelopmentSecrets.Passwords.Contains(password?.ToString() ?? "");
    }
}

/// <summary>
/// Creates the database file's folder and applies every pending migration while the host is starting, before any
/// hosted service (the web server among them) starts: no call is ever served on an old schema. Then seeds what a
/// first start needs (see <see cref="Identity.FirstStart"/>) and publishes the first health result.
/// </summary>
internal sealed class DatabaseMigrator(IServiceProvider services, IOptions<DatabaseOptions> options, IHostEnvironment environment) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Provider == DatabaseProvider.Sqlite)
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.Value.SqlitePath, environment.ContentRootPath))!);
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<TrialDbContext>().Database.MigrateAsync(cancellationToken);
        await scope.ServiceProvider.GetRequiredService<Identity.FirstStart>().RunAsync(cancellationToken);
        // gRPC health answers from published results: publish the first one now, so it is there before the first call.
        var report = await scope.ServiceProvider.GetRequiredService<HealthCheckService>().CheckHealthAsync(cancellationToken);
        foreach (var publisher in scope.ServiceProvider.GetServices<IHealthCheckPublisher>())
            await publisher.PublishAsync(report, cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

