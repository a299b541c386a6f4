using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Persistence.SqlServer;
using Cratus.Randomization.Server.Security;
using Microsoft.Data.SqlClient;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// The SQL Server store where no SQL Server engine runs (the cases on an engine are the *OnSqlServer classes, which
/// run when CRATUS_TEST_SQLSERVER is set): the idempotent migration script that DBAs apply by hand, and the SQL the
/// service sends of its own, are valid T-SQL for SQL Server 2022 by Microsoft's own parser (ScriptDom); the script
/// creates every table of the model; the model keeps the trial's rules the way PostgreSQL and SQLite do.
/// </summary>
public sealed class SqlServerStoreTests
{
    private static SqlServerTrialDbContext NewContext() =>
        new((DbContextOptions<SqlServerTrialDbContext>)new DbContextOptionsBuilder<SqlServerTrialDbContext>().UseSqlServerStore("Server=unused;Database=cratus").Options);

    /// <summary>The model with its design-time metadata (index filters, collations) as the migrations see it.</summary>
    private static IModel DesignTimeModel(DbContext context) => context.GetService<IDesignTimeModel>().Model;

    private static List<string> ParseErrors(string sql)
    {
        using var reader = new StringReader(sql);
        new TSql160Parser(initialQuotedIdentifiers: true).Parse(reader, out var errors);
        return [.. errors.Select(e => $"line {e.Line}, column {e.Column}: {e.Message}")];
    }

    [Fact]
    public void IdempotentScript_IsValidTSql_CreatesEveryTableOfTheModel_AndGuardsEveryMigration()
    {
        using var context = NewContext();

        var script = context.GetService<IMigrator>().GenerateScript(options: MigrationsSqlGenerationOptions.Idempotent);

        Assert.Empty(ParseErrors(script));
        var created = new TablesCreated();
        using (var reader = new StringReader(script))
        {
            new TSql160Parser(initialQuotedIdentifiers: true).Parse(reader, out _).Accept(created);
        }
        var tables = DesignTimeModel(context).GetEntityTypes().Select(e => e.GetTableName()).OfType<string>().Distinct().ToList();
        Assert.Contains("Participants", tables);
        Assert.Contains("AuditEvents", tables);
        Assert.All(tables, table => Assert.Contains(table, created.Names));
        Assert.All(context.Database.GetMigrations(), id => Assert.Contains($"[MigrationId] = N'{id}'", script, StringComparison.Ordinal));
        Assert.Contains("CREATE TABLE [__EFMigrationsHistory]", script, StringComparison.Ordinal);
    }

    private sealed class TablesCreated : TSqlFragmentVisitor
    {
        public HashSet<string> Names { get; } = new(StringComparer.Ordinal);

        public override void Visit(CreateTableStatement node) => Names.Add(node.SchemaObjectName.BaseIdentifier.Value);
    }

    /// <summary>SQL Server's usual collation ignores case: "scr-1" and "SCR-1" would be one screening id to a unique
    /// index. Every text column compares ordinally, as on SQLite and PostgreSQL.</summary>
    [Fact]
    public void Model_EveryTextColumn_ComparesOrdinally()
    {
        using var context = NewContext();

        var text = DesignTimeModel(context).GetEntityTypes().SelectMany(e => e.GetProperties())
            .Where(p => (p.GetProviderClrType() ?? p.ClrType) == typeof(string)).ToList();

        Assert.NotEmpty(text);
        Assert.All(text, p => Assert.Equal(SqlServerTrialDbContext.OrdinalCollation, p.GetCollation()));
    }

    /// <summary>SQL Server refuses a key or index on an nvarchar(max) column (error 1919) only when the table is
    /// created: every such column has a bounded type.</summary>
    [Fact]
    public void Model_NoKeyOrIndexColumn_IsUnbounded()
    {
        using var context = NewContext();

        var indexed = DesignTimeModel(context).GetEntityTypes()
            .SelectMany(e => e.GetIndexes().SelectMany(i => i.Properties).Concat(e.GetKeys().SelectMany(k => k.Properties)))
            .Distinct().ToList();

        Assert.All(indexed, p => Assert.DoesNotContain("(max)", p.GetColumnType(), StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>SQL Server counts NULLs as equal in a unique index, PostgreSQL and SQLite do not: each unique rule on a
    /// column that one phase leaves empty (cohort place, stratum sequence, schedule entry) must bind only the rows that
    /// have it, or the second Phase I participant would collide with the first on an empty stratum.</summary>
    [Fact]
    public void Model_UniqueRulesOnColumnsOnePhaseLeavesEmpty_BindOnlyTheRowsThatHaveThem()
    {
        using var context = NewContext();

        var nullableUnique = DesignTimeModel(context).GetEntityTypes().SelectMany(e => e.GetIndexes())
            .Where(i => i.IsUnique && i.Properties.Any(p => p.IsNullable)).ToList();

        Assert.Contains(nullableUnique, i => i.DeclaringEntityType.GetTableName() == "Participants" && i.Properties.Any(p => p.Name == "StratumSequence"));
        Assert.All(nullableUnique, i => Assert.All(i.Properties.Where(p => p.IsNullable),
            p => Assert.Contains($"[{p.GetColumnName()}] IS NOT NULL", i.GetFilter() ?? "", StringComparison.Ordinal)));
    }

    [Fact]
    public void ApplicationLock_IsValidTSql_AndEveryNegativeAnswerOfSpGetapplockFails()
    {
        Assert.Empty(ParseErrors(SqlServerLocks.TakeLock));
        // sp_getapplock answers 0 or 1 when granted, -1, -2, -3 or -999 when not: the batch tests "< 0", never "<> 0"
        // (1, granted after a wait, is the usual answer under load) nor "= -1" alone.
        Assert.Contains("IF @granted < 0", SqlServerLocks.TakeLock, StringComparison.Ordinal);
        Assert.Contains("THROW", SqlServerLocks.TakeLock, StringComparison.Ordinal);
        // A resource is at most 255 characters; the write and start-up locks are distinct.
        Assert.InRange(SqlServerLocks.Resource(WriteLock.Stratum("UMIAMI-LONGEST-SITE/F").Name).Length, 1, 255);
        Assert.NotEqual(SqlServerLocks.Resource(WriteLock.Trial(shared: false).Name), SqlServerLocks.Resource(SqlServerLocks.Startup));
    }

    /// <summary>SQL Server takes at most 2,100 parameters in a statement; a list of thousands of request ids (the
    /// hourly erasure of kept answers) must still go, as one JSON parameter.</summary>
    [Fact]
    public void Query_WithAListOfThousandsOfValues_GoesAsOneParameter()
    {
        using var context = NewContext();
        var ids = Enumerable.Range(0, 5000).Select(i => $"00000000-0000-4000-8000-{i:D12}").ToList();

        var sql = context.WriteRequests.Where(r => ids.Contains(r.RequestId)).ToQueryString();

        Assert.Contains("OPENJSON", sql, StringComparison.Ordinal);
        Assert.Empty(ParseErrors(sql));
    }

    /// <summary>The T-SQL the SQL Server test cases send of their own (the accounts their tokens name) parses too, so
    /// that a run where an engine exists does not stop at a syntax error.</summary>
    [Theory]
    [InlineData(TrialRole.SiteCoordinator)]
    [InlineData(TrialRole.SiteSystem)]
    public void TestAccounts_ForSqlServer_AreValidTSql(TrialRole role)
    {
        var sql = TestSecrets.AccountSql(role, "o'brien", ["UM", "JH"], TestDatabase.SqlServer);

        Assert.Empty(ParseErrors(sql));
        Assert.DoesNotContain("ON CONFLICT", sql, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Server=db;Database=cratus;User ID=app;Password=x", 5)]
    [InlineData("Server=db;Database=cratus;User ID=app;Password=x;Connect Timeout=30", 30)]
    [InlineData("Server=db;Database=cratus;User ID=app;Password=x;Timeout=12", 12)]
    public void HangLimits_ShortConnectTimeoutUnlessTheOperatorSetOne(string given, int expectedSeconds)
    {
        var settings = new SqlConnectionStringBuilder(SqlServerPersistence.WithHangLimits(given));

        Assert.Equal(expectedSeconds, settings.ConnectTimeout);
        Assert.Equal("Cratus.Randomization", settings.ApplicationName);
        Assert.Equal("x", settings.Password);
    }
}
