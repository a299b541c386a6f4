using Npgsql;

namespace Cratus.Benchmark;

/// <summary>Which database the benchmark's servers run on (<c>--store</c>).</summary>
internal enum StoreKind
{
    Sqlite,
    PostgreSql,
    SqlServer,
}

/// <summary>
/// The store every server of a run is on: a temporary SQLite file in the deployment's folder, or a fresh database on
/// the PostgreSQL or SQL Server that <c>--connection-string</c> (or <c>CRATUS_BENCH_POSTGRES</c> /
/// <c>CRATUS_BENCH_SQLSERVER</c>) names. The server migrates the fresh database at its first start.
/// </summary>
internal sealed record BenchStore(StoreKind Kind, string ConnectionString)
{
    public const string PostgresVariable = "CRATUS_BENCH_POSTGRES";
    public const string SqlServerVariable = "CRATUS_BENCH_SQLSERVER";

    public static readonly BenchStore Sqlite = new(StoreKind.Sqlite, "");

    /// <summary>The store the options name, or an <see cref="ArgumentException"/> whose message says what to give.</summary>
    public static BenchStore From(Options options)
    {
        var name = options.Text("--store", "sqlite").ToLowerInvariant();
        return name switch
        {
            "sqlite" => Sqlite,
            "postgres" or "postgresql" => new BenchStore(StoreKind.PostgreSql, ConnectionStringFor(options, PostgresVariable, "postgres")),
            "sqlserver" => new BenchStore(StoreKind.SqlServer, ConnectionStringFor(options, SqlServerVariable, "sqlserver")),
            _ => throw new ArgumentException($"--store {name}: use sqlite, postgres or sqlserver"),
        };
    }

    private static string ConnectionStringFor(Options options, string variable, string store) =>
        options.Text("--connection-string", Environment.GetEnvironmentVariable(variable) ?? "") is { Length: > 0 } given
            ? given
            : throw new ArgumentException($"--store {store} needs the server's connection string: --connection-string \"...\" or {variable}");

    /// <summary>How the report's header names it.</summary>
    public string Title => Kind switch
    {
        StoreKind.Sqlite => "SQLite on a temporary file (WAL, synchronous=FULL)",
        StoreKind.PostgreSql => $"PostgreSQL at {Where()} (a fresh database per server deployment)",
        _ => $"SQL Server at {Where()} (a fresh database per server deployment)",
    };

    private string Where()
    {
        var parts = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = ConnectionString };
        foreach (var key in new[] { "Host", "Server", "Data Source" })
            if (parts.TryGetValue(key, out var host)) return $"{host}" + (parts.TryGetValue("Port", out var port) ? $":{port}" : "");
        return "the given server";
    }

    /// <summary>
    /// A new database for one deployment, and the server settings that put a server on it. PostgreSQL: created here
    /// (and dropped by <see cref="DropAsync"/>). SQL Server: named here; the server's migration creates it (the
    /// benchmark holds no SQL Server client), and it is left on the server afterwards: drop the <c>cratus_bench_*</c>
    /// databases there by hand.
    /// </summary>
    public async Task<(Dictionary<string, string> Settings, string? Database)> NewDatabaseAsync(string folder)
    {
        var name = "cratus_bench_" + Guid.NewGuid().ToString("N");
        switch (Kind)
        {
            case StoreKind.PostgreSql:
                await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString))
                {
                    await connection.OpenAsync();
                    await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
                    await create.ExecuteNonQueryAsync();
                }
                return (new()
                {
                    ["Database__Provider"] = "PostgreSql",
                    // A loaded machine sometimes misses the server's default connect timeout of 1 s.
                    ["Database__ConnectionString"] = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name, Timeout = 5, MaxPoolSize = 100 }.ConnectionString,
                }, new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ConnectionString);
            case StoreKind.SqlServer:
                var settings = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = ConnectionString };
                settings["Initial Catalog"] = name;
                return (new()
                {
                    ["Database__Provider"] = "SqlServer",
                    ["Database__ConnectionString"] = settings.ConnectionString,
                }, null);
            default:
                return (new() { ["Database__SqlitePath"] = Path.Combine(folder, "cratus.db") }, null);
        }
    }

    /// <summary>Drops a PostgreSQL database made by <see cref="NewDatabaseAsync"/> once its servers are gone.</summary>
    public async Task DropAsync(string? database)
    {
        if (Kind != StoreKind.PostgreSql || database is null) return;
        var name = new NpgsqlConnectionStringBuilder(database).Database;
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
