using Cratus.Randomization.Server.Persistence.PostgreSql;
using Microsoft.Data.SqlClient;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Cratus.Testing;

public enum TestDatabase
{
    Sqlite,
    PostgreSql,
    SqlServer,
}

/// <summary>Marks a test class whose tests run on PostgreSQL: they are skipped, with the reason, without a server.</summary>
public interface IRunsOnPostgreSql;

/// <summary>Marks a test class whose tests run on SQL Server: they are skipped, with the reason, without a server.</summary>
public interface IRunsOnSqlServer;

/// <summary>
/// The PostgreSQL server the tests may use: its connection string comes from CRATUS_TEST_POSTGRES (`.ci/run` starts a
/// throw-away cluster and sets it). Each test server gets a database of its own, dropped afterwards.
/// </summary>
public static class TestDatabases
{
    public const string Variable = "CRATUS_TEST_POSTGRES";

    public static string? PostgreSqlServer => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value ? value : null;

    /// <summary>The SQL Server the tests may use: a connection string (to master, or any database) with the right to create databases.</summary>
    public const string SqlServerVariable = "CRATUS_TEST_SQLSERVER";

    public static string? SqlServerServer => Environment.GetEnvironmentVariable(SqlServerVariable) is { Length: > 0 } value ? value : null;

    public static string? SkipReason(ITypeInfo testClass) =>
        PostgreSqlServer is null && testClass.Interfaces.Any(i => i.Name == typeof(IRunsOnPostgreSql).FullName)
            ? $"PostgreSQL case: set {Variable} to a PostgreSQL connection string (as .ci/run does) to run it"
            : SqlServerServer is null && testClass.Interfaces.Any(i => i.Name == typeof(IRunsOnSqlServer).FullName)
                ? $"SQL Server case: no SQL Server engine runs here; set {SqlServerVariable} to a SQL Server connection string with the right to create databases (README, \"SQL Server\") to run it"
                : null;

    /// <summary>A new, empty database on the configured server of <paramref name="database"/> (PostgreSQL or SQL Server): its connection string.</summary>
    public static Task<string> CreateDatabaseAsync(TestDatabase database) => database switch
    {
        TestDatabase.PostgreSql => CreatePostgreSqlDatabaseAsync(),
        TestDatabase.SqlServer => CreateSqlServerDatabaseAsync(),
        _ => throw new ArgumentOutOfRangeException(nameof(database), database, "a SQLite database is a file"),
    };

    /// <summary>Drops a database made by <see cref="CreateDatabaseAsync"/>.</summary>
    public static Task DropDatabaseAsync(TestDatabase database, string connectionString) => database switch
    {
        TestDatabase.PostgreSql => DropPostgreSqlDatabaseAsync(connectionString),
        TestDatabase.SqlServer => DropSqlServerDatabaseAsync(connectionString),
        _ => throw new ArgumentOutOfRangeException(nameof(database), database, "a SQLite database is a file"),
    };

    /// <summary>An unpooled connection (not yet open) to a test database: a SQLite file's path or a server's connection string.</summary>
    public static System.Data.Common.DbConnection Connection(TestDatabase database, string location) => database switch
    {
        TestDatabase.Sqlite => new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={location};Pooling=False"),
        TestDatabase.PostgreSql => new NpgsqlConnection(new NpgsqlConnectionStringBuilder(location) { Pooling = false }.ConnectionString),
        _ => new SqlConnection(new SqlConnectionStringBuilder(location) { Pooling = false }.ConnectionString),
    };

    /// <summary>
    /// A new, empty database on the configured SQL Server (<see cref="SqlServerVariable"/>): its connection string. The
    /// test server migrates it when it starts (SQL Server has no CREATE DATABASE ... TEMPLATE to copy a migrated one).
    /// </summary>
    public static async Task<string> CreateSqlServerDatabaseAsync()
    {
        var server = SqlServerServer ?? throw new InvalidOperationException($"{SqlServerVariable} is not set");
        var name = "cratus_test_" + Guid.NewGuid().ToString("N");
        await using var connection = new SqlConnection(new SqlConnectionStringBuilder(server) { InitialCatalog = "master", Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        // In the collation the service requires of its database (it refuses any other at start-up).
        await using var command = new SqlCommand($"CREATE DATABASE [{name}] COLLATE {Cratus.Randomization.Server.Persistence.SqlServer.SqlServerTrialDbContext.OrdinalCollation}", connection);
        await command.ExecuteNonQueryAsync();
        // Connect timeout of 5 s, as for PostgreSQL: the first connections of a run on a loaded machine may be slow.
        return new SqlConnectionStringBuilder(server) { InitialCatalog = name, ConnectTimeout = 5 }.ConnectionString;
    }

    /// <summary>Drops a database made by <see cref="CreateSqlServerDatabaseAsync"/>, its open sessions first.</summary>
    public static async Task DropSqlServerDatabaseAsync(string connectionString)
    {
        SqlConnection.ClearAllPools();
        var name = new SqlConnectionStringBuilder(connectionString).InitialCatalog;
        await using var connection = new SqlConnection(new SqlConnectionStringBuilder(SqlServerServer) { InitialCatalog = "master", Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new SqlCommand($"IF DB_ID(N'{name}') IS NOT NULL BEGIN ALTER DATABASE [{name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [{name}]; END", connection);
        await command.ExecuteNonQueryAsync();
    }

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
        var database = settings.TryGetValue("Database:Provider", out var provider) && Enum.TryParse<TestDatabase>(provider, out var named) ? named : TestDatabase.Sqlite;
        await using var connection = Connection(database, database == TestDatabase.Sqlite
            ? Path.GetFullPath(settings.TryGetValue("Database:SqlitePath", out var path) ? path : "data/cratus.db", AppContext.BaseDirectory)
            : settings["Database:ConnectionString"]);
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
