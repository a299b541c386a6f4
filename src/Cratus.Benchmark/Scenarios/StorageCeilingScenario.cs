using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Cratus.Benchmark.Scenarios;

/// <summary>The rate of durable single-row commits on the server's own store: the ceiling for any durable write.
/// SQLite: the same settings, in process. PostgreSQL: a table in a fresh database on the same server, one pooled
/// connection per caller, each commit flushed (synchronous_commit as the server is configured, on by default).
/// SQL Server: not measured (the benchmark holds no SQL Server client; see docs/benchmarks.md).</summary>
internal sealed record StorageCeilingScenario() : CallScenario("storage", "durable single-row commit (storage ceiling)")
{
    public override Task<Result> MeasureAsync(SharedServer shared, int callers, Window window) => MeasureAsync(shared.Server.Store, callers, window);

    /// <summary>The ceiling of <paramref name="store"/> at this many callers (connections), or null where it is not measured.</summary>
    public static Task<Result> MeasureAsync(BenchStore store, int callers, Window window) => store.Kind switch
    {
        StoreKind.Sqlite => SqliteAsync(callers, window),
        StoreKind.PostgreSql => PostgreSqlAsync(store, callers, window),
        _ => Task.FromResult(new Result(double.NaN, double.NaN, double.NaN, "not measured: no SQL Server client in the benchmark")),
    };

    private static async Task<Result> SqliteAsync(int callers, Window window)
    {
        var path = Path.Combine(Path.GetTempPath(), $"cratus-ceiling-{Guid.NewGuid():N}.db");
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ToString();
        await using (var setup = new SqliteConnection(connectionString))
        {
            await setup.OpenAsync();
            await using var create = setup.CreateCommand();
            create.CommandText = "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);";
            await create.ExecuteNonQueryAsync();
        }
        try
        {
            return await Load.MeasureAsync(callers, window, [null!], async (_, i) =>
            {
                await using var connection = new SqliteConnection(connectionString);
                await connection.OpenAsync();
                await using (var pragma = connection.CreateCommand())
                {
                    pragma.CommandText = "PRAGMA synchronous=FULL;";
                    await pragma.ExecuteNonQueryAsync();
                }
                await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
                await using var insert = connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO t (v) VALUES ($v)";
                insert.Parameters.AddWithValue("$v", "row " + i.ToString(CultureInfo.InvariantCulture));
                await insert.ExecuteNonQueryAsync();
                await transaction.CommitAsync();
            });
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            foreach (var f in new[] { path, path + "-wal", path + "-shm" }) File.Delete(f);
        }
    }

    private static async Task<Result> PostgreSqlAsync(BenchStore store, int callers, Window window)
    {
        var (_, database) = await store.NewDatabaseAsync(Path.GetTempPath());
        var connectionString = new NpgsqlConnectionStringBuilder(database) { MaxPoolSize = Math.Max(callers, 1), Timeout = 5 }.ConnectionString;
        try
        {
            await using (var setup = new NpgsqlConnection(connectionString))
            {
                await setup.OpenAsync();
                await using var create = new NpgsqlCommand("CREATE TABLE t (id bigserial PRIMARY KEY, v text NOT NULL)", setup);
                await create.ExecuteNonQueryAsync();
            }
            return await Load.MeasureAsync(callers, window, [null!], async (_, i) =>
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync();
                await using var transaction = await connection.BeginTransactionAsync();
                await using var insert = new NpgsqlCommand("INSERT INTO t (v) VALUES (@v)", connection, transaction);
                insert.Parameters.AddWithValue("v", "row " + i.ToString(CultureInfo.InvariantCulture));
                await insert.ExecuteNonQueryAsync();
                await transaction.CommitAsync();
            });
        }
        finally
        {
            await store.DropAsync(database);
        }
    }
}
