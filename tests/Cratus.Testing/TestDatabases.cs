using Cratus.Randomization.Server.Persistence.PostgreSql;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Cratus.Testing;

public enum TestDatabase
{
    Sqlite,
    PostgreSql,
}

/// <summary>Marks a test class whose tests run on PostgreSQL: they are skipped, with the reason, without a server.</summary>
public interface IRunsOnPostgreSql;

/// <summary>
/// The PostgreSQL server the tests may use: its connection string comes from CRATUS_TEST_POSTGRES (`.ci/run` starts a
/// throw-away cluster and sets it). Each test server gets a database of its own, dropped afterwards.
/// </summary>
public static class TestDatabases
{
    public const string Variable = "CRATUS_TEST_POSTGRES";

    public static string? PostgreSqlServer => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value ? value : null;

    public static string? SkipReason(ITypeInfo testClass) =>
        PostgreSqlServer is null && testClass.Interfaces.Any(i => i.Name == typeof(IRunsOnPostgreSql).FullName)
            ? $"PostgreSQL case: set {Variable} to a PostgreSQL connection string (as .ci/run does) to run it"
            : null;

    /// <summary>A new, empty database on the configured PostgreSQL server (<see cref="Variable"/>): its connection string.</summary>
    public static Task<string> CreatePostgreSqlDatabaseAsync() =>
        CreateDatabaseOnAsync(PostgreSqlServer ?? throw new InvalidOperationException($"{Variable} is not set"));

    /// <summary>
    /// A new database on the configured PostgreSQL server with the schema already migrated, for a test server: a copy
    /// (CREATE DATABASE ... TEMPLATE) of a database migrated once per test run, which is dropped when the run ends.
    /// Migrating costs about half a second of PostgreSQL's time per server, a copy much less; the tests about starting
    /// on an empty database (start-up race, multi-node, outage) take <see cref="CreatePostgreSqlDatabaseAsync"/>.
    /// </summary>
    /// <remarks>The connection string sets a connect timeout of 5 s: the server's default of 1 s (for a PostgreSQL on
    /// the same network) is sometimes missed by the first connections of a test run on a loaded two-core machine. The
    /// tests of a hanging database set their own limits.</remarks>
    public static async Task<string> CreateMigratedPostgreSqlDatabaseAsync() => new NpgsqlConnectionStringBuilder(
        await CreateDatabaseOnAsync(PostgreSqlServer ?? throw new InvalidOperationException($"{Variable} is not set"), await MigratedTemplate.Value)) { Timeout = 5 }.ConnectionString;

    private static readonly Lazy<Task<string>> MigratedTemplate = new(async () =>
    {
        var template = await CreatePostgreSqlDatabaseAsync();
        // Unpooled: CREATE DATABASE ... TEMPLATE refuses while any connection to the template is open.
        var unpooled = new NpgsqlConnectionStringBuilder(template) { Pooling = false }.ConnectionString;
        await using (var context = new PostgreSqlTrialDbContext(new DbContextOptionsBuilder<PostgreSqlTrialDbContext>().UseNpgsql(unpooled).Options))
            await context.Database.MigrateAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                DropPostgreSqlDatabaseAsync(template).GetAwaiter().GetResult();
            }
            catch (NpgsqlException)
            {
                // The server went first; a throw-away cluster goes with its template.
            }
        };
        return new NpgsqlConnectionStringBuilder(template).Database!;
    });

    /// <summary>A new database on the PostgreSQL server that <paramref name="server"/> connects to, empty or a copy of
    /// <paramref name="template"/>: its connection string.</summary>
    public static async Task<string> CreateDatabaseOnAsync(string server, string? template = null)
    {
        var name = "cratus_test_" + Guid.NewGuid().ToString("N");
        // Unpooled: a private cluster may have been stopped and started since the last time.
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"" + (template is null ? "" : $" TEMPLATE \"{template}\""), connection);
        await command.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    /// <summary>Runs SQL on the database a server was configured with (Database:Provider, :SqlitePath or
    /// :ConnectionString), as a person with database access would.</summary>
    public static async Task ExecuteAsync(IReadOnlyDictionary<string, string> settings, string sql)
    {
        var postgres = settings.TryGetValue("Database:Provider", out var provider) && provider == "PostgreSql";
        await using System.Data.Common.DbConnection connection = postgres
            ? new NpgsqlConnection(new NpgsqlConnectionStringBuilder(settings["Database:ConnectionString"]) { Pooling = false }.ConnectionString)
            : new Microsoft.Data.Sqlite.SqliteConnection(
                $"Data Source={Path.GetFullPath(settings.TryGetValue("Database:SqlitePath", out var path) ? path : "data/cratus.db", AppContext.BaseDirectory)};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    public static async Task DropPostgreSqlDatabaseAsync(string connectionString)
    {
        NpgsqlConnection.ClearAllPools();
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        await using var connection = new NpgsqlConnection(PostgreSqlServer);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>A fact that is skipped, with the reason, when its class runs on PostgreSQL and no server is configured.</summary>
[XunitTestCaseDiscoverer("Cratus.Testing.ProviderFactDiscoverer", "Cratus.Testing")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ProviderFactAttribute : FactAttribute;

/// <summary>A theory that is skipped, with the reason, when its class runs on PostgreSQL and no server is configured.</summary>
[XunitTestCaseDiscoverer("Cratus.Testing.ProviderTheoryDiscoverer", "Cratus.Testing")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ProviderTheoryAttribute : TheoryAttribute;

public sealed class ProviderFactDiscoverer(IMessageSink sink) : FactDiscoverer(sink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        TestDatabases.SkipReason(testMethod.TestClass.Class) is { } reason
            ? [new XunitSkippedDataRowTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason)]
            : base.Discover(discoveryOptions, testMethod, factAttribute);
}

public sealed class ProviderTheoryDiscoverer(IMessageSink sink) : TheoryDiscoverer(sink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute) =>
        TestDatabases.SkipReason(testMethod.TestClass.Class) is not null
            ? [new SkippedTheoryTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod)]
            : base.Discover(discoveryOptions, testMethod, theoryAttribute);
}

/// <summary>A whole theory reported as skipped (its data never enumerated), with the reason.</summary>
public sealed class SkippedTheoryTestCase : XunitTheoryTestCase
{
    [Obsolete("Called by the de-serializer only.", error: true)]
    public SkippedTheoryTestCase()
    {
    }

    public SkippedTheoryTestCase(IMessageSink sink, TestMethodDisplay display, TestMethodDisplayOptions options, ITestMethod testMethod)
        : base(sink, display, options, testMethod)
    {
    }

    protected override string GetSkipReason(IAttributeInfo factAttribute) =>
        TestDatabases.SkipReason(TestMethod.TestClass.Class) ?? base.GetSkipReason(factAttribute);
}

/// <summary>The base of every test class that runs once per database: a sealed subclass per provider picks it.</summary>
public abstract class OnEachDatabase
{
    protected abstract TestDatabase Database { get; }

    /// <summary>A server for Phase II tests (the Phase I gate lifted).</summary>
    protected TrialServer NewServer(params (string From, string To)[] definitionEdits) => new(Database, false, null, definitionEdits);

    /// <summary>A server on the shipped definition: Phase I first.</summary>
    protected TrialServer NewServerWithPhaseOne(params (string From, string To)[] definitionEdits) => new(Database, false, null, [("", ""), .. definitionEdits]);

    protected TrialServer NewServer(bool onLoopback, IReadOnlyDictionary<string, string>? settings = null, params (string From, string To)[] definitionEdits) =>
        new(Database, onLoopback, settings, definitionEdits);
}
