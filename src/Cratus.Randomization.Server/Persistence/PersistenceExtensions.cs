using Cratus.Randomization.Server.Persistence.PostgreSql;
using Cratus.Randomization.Server.Persistence.Sqlite;
using Cratus.Randomization.Server.Persistence.SqlServer;
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
    /// <summary>A Microsoft SQL Server database, shared by any number of nodes.</summary>
    SqlServer,
}

/// <summary>Where the trial's data lives. Bound from the "Database" section.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>SQLite: path of the file; relative paths are under the content root.</summary>
    public string SqlitePath { get; set; } = "data/cratus.db";

    /// <summary>PostgreSQL: the Npgsql connection string; SQL Server: the SqlClient one (keep its password in a secret
    /// store or the environment).</summary>
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
            .Validate(o => o.Provider != DatabaseProvider.SqlServer || !string.IsNullOrWhiteSpace(o.ConnectionString),
                "Database:ConnectionString is required when Database:Provider is SqlServer.")
            .Validate(o => builder.Environment.IsDevelopment() || !UsesRepositoryPassword(o.ConnectionString),
                "Database:ConnectionString uses a sample password from the repository. Outside the Development environment set your own.")
            .ValidateOnStart();
        var provider = builder.Configuration.GetValue(DatabaseOptions.Section + ":" + nameof(DatabaseOptions.Provider), DatabaseProvider.Sqlite);
        if (provider == DatabaseProvider.PostgreSql) builder.AddPostgreSqlPersistence();
        else if (provider == DatabaseProvider.SqlServer) builder.AddSqlServerPersistence();
        else builder.AddSqlitePersistence();
        builder.Services.AddHostedService<DatabaseMigrator>();
        builder.AddDatabaseHealth();
        return builder;
    }

    /// <summary>
    /// gRPC health answers from the result the health-check publisher refreshes every second, so that probes cost no
    /// database work and answer at once. The one check reads what <see cref="DatabaseProbe"/> last learnt in the
    /// background: it never waits for the database, so a hung database cannot hold up the publisher (the registration's
    /// timeout is a second guard). Every service of this server needs the database, so each of their names, and "" for
    /// the server as a whole, answers the same; any other name is NOT_FOUND, as the health protocol says.
    /// </summary>
    private static void AddDatabaseHealth(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DatabaseProbe>();
        builder.Services.AddHostedService(services => services.GetRequiredService<DatabaseProbe>());
        builder.Services.AddGrpcHealthChecks(o =>
        {
            o.UseHealthChecksCache = true;
            o.Services.Clear();
            foreach (var name in ServedServiceNames) o.Services.Map(name, _ => true);
        }).Add(new HealthCheckRegistration("database", services => services.GetRequiredService<DatabaseProbe>(),
            HealthStatus.Unhealthy, tags: null, timeout: TimeSpan.FromSeconds(1)));
        builder.Services.Configure<HealthCheckPublisherOptions>(o =>
        {
            o.Delay = TimeSpan.FromSeconds(1);
            o.Period = TimeSpan.FromSeconds(1);
        });
    }

    /// <summary>"" (the whole server) and the fully qualified name of every gRPC service the server maps.</summary>
    internal static IEnumerable<string> ServedServiceNames =>
        new[]
        {
            Protos.V1.RandomizationServiceReflection.Descriptor, Protos.V1.PharmacyServiceReflection.Descriptor, Protos.V1.TrialServiceReflection.Descriptor,
            Protos.V1.ScheduleServiceReflection.Descriptor, Protos.V1.UnblindingServiceReflection.Descriptor, Protos.V1.AuditServiceReflection.Descriptor,
            Protos.V1.IdentityServiceReflection.Descriptor, Protos.V1.AdministrationServiceReflection.Descriptor, Protos.V1.DoseEscalationServiceReflection.Descriptor,
        }.SelectMany(file => file.Services).Select(service => service.FullName).Prepend("");

    private static bool UsesRepositoryPassword(string connectionString)
    {
        var parts = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        // "Pwd" is SQL Server's other spelling of the key.
        return (parts.TryGetValue("Password", out var password) && Security.DevelopmentSecrets.Passwords.Contains(password?.ToString() ?? ""))
            || (parts.TryGetValue("Pwd", out var pwd) && Security.DevelopmentSecrets.Passwords.Contains(pwd?.ToString() ?? ""));
    }
}

/// <summary>
/// A lock that one node at a time holds while it migrates and seeds the database: several nodes starting together on
/// an empty database would otherwise each create the same tables (PostgreSQL: 42P07, relation already exists) and
/// seed the same rows. Each provider has its own (see its folder).
/// </summary>
internal interface IStartupLock
{
    /// <summary>Waits for the lock; disposing the result releases it.</summary>
    Task<IAsyncDisposable> AcquireAsync(CancellationToken ct);
}

/// <summary>
/// Creates the database file's folder and applies every pending migration while the host is starting, before any
/// hosted service (the web server among them) starts: no call is ever served on an old schema. Then seeds what a
/// first start needs (see <see cref="Identity.FirstStart"/>) and publishes the first health result. Migrating and
/// seeding run under the <see cref="IStartupLock"/>: a node that waited for it finds the work done.
/// </summary>
internal sealed class DatabaseMigrator(IServiceProvider services, IOptions<DatabaseOptions> options, IHostEnvironment environment) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Provider == DatabaseProvider.Sqlite)
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.Value.SqlitePath, environment.ContentRootPath))!);
        await using var scope = services.CreateAsyncScope();
        await using (await scope.ServiceProvider.GetRequiredService<IStartupLock>().AcquireAsync(cancellationToken))
        {
            await scope.ServiceProvider.GetRequiredService<TrialDbContext>().Database.MigrateAsync(cancellationToken);
            // Before the definition's sites are seeded: a running trial's design, sites among it, cannot change.
            await scope.ServiceProvider.GetRequiredService<Application.Schedule.ScheduleKeeper>().CheckRunningDesignAsync(cancellationToken);
            await scope.ServiceProvider.GetRequiredService<Identity.FirstStart>().RunAsync(cancellationToken);
        }
        await scope.ServiceProvider.GetRequiredService<DatabaseProbe>().AskAsync(cancellationToken);
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

