using System.Data;
using System.Data.Common;
using Microsoft.Data.SqlClient;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Persistence.SqlServer;

/// <summary>
/// The model on Microsoft SQL Server, with the migrations in this folder. Every text column compares ordinally
/// (<see cref="OrdinalCollation"/>), as on SQLite and PostgreSQL: SQL Server's usual default collation ignores case,
/// so "scr-1" and "SCR-1" would be one screening id to a unique index and to every lookup. The database's own
/// collation must be the same (see <see cref="SqlServerStartupLock"/>): a list in a query goes through OPENJSON,
/// whose values take the database's collation, and SQL Server refuses to compare two different ones.
/// </summary>
public sealed class SqlServerTrialDbContext(DbContextOptions<SqlServerTrialDbContext> options) : TrialDbContext(options)
{
    /// <summary>Binary code-point order: case- and accent-sensitive, the same whatever the server's or database's collation.</summary>
    public const string OrdinalCollation = "Latin1_General_100_BIN2";

    /// <summary>
    /// sp_getapplock on the lock's name (<see cref="WriteLock.Name"/>), shared or exclusive, owned by the transaction:
    /// held until the commit or rollback, or until a crashed node's session ends (see <see cref="SqlServerLocks.TakeLock"/>).
    /// </summary>
    protected override async Task TakeLockAsync(WriteLock writeLock, bool firstOfTransaction, CancellationToken ct)
    {
        var transaction = Database.CurrentTransaction!.GetDbTransaction();
        await using var command = SqlServerLocks.TakeCommand(transaction.Connection!, transaction, writeLock.Name, "Transaction", writeLock.Shared ? "Shared" : "Exclusive");
        await command.ExecuteNonQueryAsync(ct);
    }

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        foreach (var entity in builder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
            {
                if ((property.GetProviderClrType() ?? property.GetValueConverter()?.ProviderClrType ?? property.ClrType) == typeof(string)) property.SetCollation(OrdinalCollation);
            }
        }
    }
}

internal static class SqlServerPersistence
{
    public static void AddSqlServerPersistence(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IStartupLock, SqlServerStartupLock>();
        // Pooled contexts: the options are built once, not on every call.
        builder.Services.AddDbContextPool<TrialDbContext, SqlServerTrialDbContext>((services, options) =>
            options.UseSqlServerStore(WithHangLimits(services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString))
                .QuietExpectedConflicts());
    }

    /// <summary>
    /// The provider's own options. A list in a query (<c>ids.Contains(x.Id)</c>) goes as one JSON parameter
    /// (OPENJSON, SQL Server 2016 and later), one query plan whatever its length: EF Core 10's default, one parameter
    /// per value, has a plan per length and turns to OPENJSON anyway beyond SQL Server's 2,100 parameters (a trial
    /// erases thousands of kept answers in one statement, RetrySafeWrites).
    /// </summary>
    internal static DbContextOptionsBuilder UseSqlServerStore(this DbContextOptionsBuilder options, string connectionString) =>
        options.UseSqlServer(connectionString, sql => sql.UseParameterizedCollectionMode(ParameterTranslationMode.Parameter));

    /// <summary>
    /// Bounds what an unreachable server can cost a call, unless the connection string says otherwise: opening a
    /// connection gives up after 5 s (SqlClient's default is 15 s; a SQL Server on the same network opens in
    /// milliseconds, TLS included). A call's cancellation reaches a running command as an attention signal on its own
    /// connection; a server that does not acknowledge it costs at most SqlClient's fixed attention timeout (5 s), after
    /// which the connection is dropped and never returned to the pool. The application name lets a DBA see the
    /// service's sessions (sys.dm_exec_sessions.program_name).
    /// </summary>
    internal static string WithHangLimits(string connectionString)
    {
        var settings = new SqlConnectionStringBuilder(connectionString);
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        if (!given.ContainsKey("Connect Timeout") && !given.ContainsKey("Connection Timeout") && !given.ContainsKey("Timeout")) settings.ConnectTimeout = 5;
        if (!given.ContainsKey("Application Name") && !given.ContainsKey("App")) settings.ApplicationName = "Cratus.Randomization";
        return settings.ConnectionString;
    }
}

/// <summary>
/// The application locks (sp_getapplock) the service takes on SQL Server, in one place: the write locks that
/// <see cref="WriteLock"/> names for every store (the trial, one stratum or Phase I's places, the audit tail, taken in
/// its order), and the start-up lock. A lock's resource is derived from its name by <see cref="Resource"/> alone.
/// </summary>
internal static class SqlServerLocks
{
    /// <summary>The application-lock resource that stands for the CRATUS lock called <paramref name="name"/> in this database.</summary>
    internal static string Resource(string name) => "cratus/" + name;

    /// <summary>The start-up lock's name: one node at a time migrates and seeds (see <see cref="SqlServerStartupLock"/>).</summary>
    internal const string Startup = "startup";

    /// <summary>
    /// Takes an application lock in the given mode (Shared or Exclusive) and waits for it as long as the command may run (no lock timeout of its
    /// own: the command timeout, or the call's cancellation, ends the wait, as a PostgreSQL advisory lock's). The
    /// return code of sp_getapplock is 0 (granted at once) or 1 (granted after waiting); a negative one (-1 timed out,
    /// -2 cancelled, -3 chosen as deadlock victim, -999 bad parameters) means the lock is NOT held, and must never be
    /// taken for success: the batch then raises error 51000, which fails the transaction. A transaction-owned lock is
    /// released by the commit or rollback; a session-owned one when the session ends or releases it.
    /// </summary>
    internal const string TakeLock = """
        DECLARE @granted int;
        EXEC @granted = sys.sp_getapplock @Resource = @resource, @LockMode = @mode, @LockOwner = @owner, @LockTimeout = -1;
        IF @granted < 0
        BEGIN
            DECLARE @message nvarchar(2048) = CONCAT(N'The application lock ', @resource, N' was not granted: sp_getapplock returned ', @granted, N'.');
            THROW 51000, @message, 1;
        END;
        """;

    /// <summary>A command that takes the lock called <paramref name="name"/> for <paramref name="owner"/> ("Transaction" or "Session") in <paramref name="mode"/>.</summary>
    internal static DbCommand TakeCommand(DbConnection connection, DbTransaction? transaction, string name, string owner, string mode = "Exclusive")
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = TakeLock;
        var resource = command.CreateParameter();
        resource.ParameterName = "@resource";
        resource.DbType = DbType.String;
        resource.Size = 255;
        resource.Value = Resource(name);
        command.Parameters.Add(resource);
        var lockOwner = command.CreateParameter();
        lockOwner.ParameterName = "@owner";
        lockOwner.DbType = DbType.AnsiString;
        lockOwner.Size = 32;
        lockOwner.Value = owner;
        command.Parameters.Add(lockOwner);
        var lockMode = command.CreateParameter();
        lockMode.ParameterName = "@mode";
        lockMode.DbType = DbType.AnsiString;
        lockMode.Size = 32;
        lockMode.Value = mode;
        command.Parameters.Add(lockMode);
        return command;
    }
}

/// <summary>
/// The start-up lock on SQL Server: a session-owned application lock, held on a connection of its own for as long as
/// the node migrates and seeds (migrations run their own transactions, so a transaction-owned lock cannot span them).
/// A node that dies holding it loses its session, and the lock with it. An application lock lives in a database, so
/// the database is created first when it does not exist yet, in <see cref="SqlServerTrialDbContext.OrdinalCollation"/>
/// (several nodes may race to create it: the losers find it there, SQL Server error 1801); a database in another
/// collation is refused before anything is written to it.
/// </summary>
internal sealed class SqlServerStartupLock(IOptions<DatabaseOptions> options) : IStartupLock
{
    public async Task<IAsyncDisposable> AcquireAsync(CancellationToken ct)
    {
        // Not pooled (closing it ends the session, releasing the lock), and the operator's own timeouts: waiting for
        // another node's migration may take a while.
        var connection = new SqlConnection(new SqlConnectionStringBuilder(options.Value.ConnectionString) { Pooling = false }.ConnectionString);
        try
        {
            await OpenCreatingTheDatabaseAsync(connection, ct);
            await RequireOrdinalCollationAsync(connection, ct);
            await using var take = SqlServerLocks.TakeCommand(connection, null, SqlServerLocks.Startup, "Session");
            take.CommandTimeout = 0;
            await take.ExecuteNonQueryAsync(ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Opens the connection to the database, creating the database (through master) only if it cannot be opened
    /// because it does not exist (error 4060): a login given an existing database needs no right on master. A database
    /// that another node has only just created may refuse logins for a moment, so 4060 is retried for up to 10 s.
    /// </summary>
    private static async Task OpenCreatingTheDatabaseAsync(SqlConnection connection, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await connection.OpenAsync(ct);
                return;
            }
            catch (SqlException ex) when (ex.Number == 4060 && attempt < 20)
            {
                if (attempt == 1) await CreateDatabaseIfMissingAsync(connection.ConnectionString, ct);
                else await Task.Delay(500, ct);
            }
        }
    }

    private static async Task CreateDatabaseIfMissingAsync(string connectionString, CancellationToken ct)
    {
        var name = new SqlConnectionStringBuilder(connectionString).InitialCatalog;
        if (string.IsNullOrEmpty(name)) throw new InvalidOperationException("Database:ConnectionString must name the database (Database=...).");
        await using var master = new SqlConnection(new SqlConnectionStringBuilder(connectionString) { InitialCatalog = "master", Pooling = false }.ConnectionString);
        await master.OpenAsync(ct);
        await using var create = master.CreateCommand();
        create.CommandText = $"""
            IF DB_ID(@name) IS NULL
            BEGIN
                DECLARE @create nvarchar(max) = N'CREATE DATABASE ' + QUOTENAME(@name) + N' COLLATE {SqlServerTrialDbContext.OrdinalCollation}';
                EXEC (@create);
            END;
            """;
        create.Parameters.Add(new SqlParameter("@name", SqlDbType.NVarChar, 128) { Value = name });
        try
        {
            await create.ExecuteNonQueryAsync(ct);
        }
        catch (SqlException ex) when (ex.Number == 1801)
        {
            // Another node created it a moment ago.
        }
    }

    /// <summary>SQL Server refuses to compare two text values of different collations (error 468): the database's own
    /// collation, which a list in a query takes (OPENJSON), must be that of every column.</summary>
    private static async Task RequireOrdinalCollationAsync(SqlConnection connection, CancellationToken ct)
    {
        await using var ask = connection.CreateCommand();
        ask.CommandText = "SELECT CONVERT(nvarchar(128), DATABASEPROPERTYEX(DB_NAME(), 'Collation'))";
        var collation = await ask.ExecuteScalarAsync(ct) as string;
        if (!string.Equals(collation, SqlServerTrialDbContext.OrdinalCollation, StringComparison.Ordinal))
            throw new InvalidOperationException(
                $"The SQL Server database '{connection.Database}' has the collation {collation}; the service needs {SqlServerTrialDbContext.OrdinalCollation}, " +
                $"in which identifiers compare exactly. Create it with CREATE DATABASE ... COLLATE {SqlServerTrialDbContext.OrdinalCollation}, or let the service create it " +
                $"(omit it, and give the login the right to create databases); an empty database can be changed with ALTER DATABASE ... COLLATE {SqlServerTrialDbContext.OrdinalCollation}.");
    }
}

/// <summary>Lets `dotnet ef migrations add ... --context SqlServerTrialDbContext` build the model without a server.</summary>
internal sealed class DesignTimeSqlServerFactory : IDesignTimeDbContextFactory<SqlServerTrialDbContext>
{
    public SqlServerTrialDbContext CreateDbContext(string[] args) =>
        new((DbContextOptions<SqlServerTrialDbContext>)new DbContextOptionsBuilder<SqlServerTrialDbContext>().UseSqlServerStore("Server=localhost;Database=cratus_design_time;Integrated Security=false").Options);
}
