using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Cratus.Benchmark.Scenarios;

/// <summary>The rate of durable single-row commits on the same SQLite settings: the ceiling for any durable write.</summary>
internal sealed record StorageCeilingScenario() : CallScenario("storage", "durable single-row commit (storage ceiling)")
{
    public override async Task<Result> MeasureAsync(SharedServer shared, int callers, Window window)
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
}
