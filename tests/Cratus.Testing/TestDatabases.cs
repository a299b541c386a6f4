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

    /// <summary>A new, empty database on the PostgreSQL server that <paramref name="server"/> connects to: its connection string.</summary>
    public static async Task<string> CreateDatabaseOnAsync(string server)
    {
        var name = "cratus_test_" + Guid.NewGuid().ToString("N");
        // Unpooled: a private cluster may have been stopped and started since the last time.
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
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
