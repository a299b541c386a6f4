using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Persistence.PostgreSql;
using Cratus.Randomization.Server.Persistence.Sqlite;
using Cratus.Randomization.Server.Persistence.SqlServer;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Tests;

/// <summary>Each provider's migrations must describe today's model: a model change without a migration for every
/// provider fails here (and `.ci/run` asks `dotnet ef` the same question).</summary>
public sealed class MigrationTests
{
    public static TheoryData<string> Providers => ["sqlite", "postgresql", "sqlserver"];

    [Theory]
    [MemberData(nameof(Providers))]
    public void Migrations_OfEachProvider_MatchTheModel(string provider)
    {
        using TrialDbContext context = provider == "sqlite"
            ? new SqliteTrialDbContext(new DbContextOptionsBuilder<SqliteTrialDbContext>().UseSqlite("Data Source=:memory:").Options)
            : provider == "sqlserver" ? new SqlServerTrialDbContext(new DbContextOptionsBuilder<SqlServerTrialDbContext>().UseSqlServer("Server=unused").Options)
            : new PostgreSqlTrialDbContext(new DbContextOptionsBuilder<PostgreSqlTrialDbContext>().UseNpgsql("Host=unused").Options);

        Assert.False(context.Database.HasPendingModelChanges(), $"the {provider} migrations lag behind the model: add a migration for it");
        Assert.NotEmpty(context.Database.GetMigrations());
    }
}
