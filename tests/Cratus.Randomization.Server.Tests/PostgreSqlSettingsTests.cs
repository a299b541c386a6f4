using Cratus.Randomization.Server.Persistence.PostgreSql;
using Npgsql;

namespace Cratus.Randomization.Server.Tests;

/// <summary>The connection settings the server adds on PostgreSQL, each only where the operator set none (README, "Databases").</summary>
public sealed class PostgreSqlSettingsTests
{
    [Fact]
    public void ServerDefaults_NothingGiven_ShortTimeouts_PreparedStatements_NoReset()
    {
        var settings = new NpgsqlConnectionStringBuilder(PostgreSqlPersistence.WithServerDefaults("Host=db;Database=cratus;Username=app;Password=x"));

        Assert.Equal(1, settings.Timeout);
        Assert.Equal(-1, settings.CancellationTimeout);
        Assert.Equal(64, settings.MaxAutoPrepare);
        Assert.Equal(2, settings.AutoPrepareMinUsages);
        Assert.True(settings.NoResetOnClose);
        Assert.Equal("x", settings.Password);
    }

    [Fact]
    public void ServerDefaults_OperatorsOwnSettings_AreKept()
    {
        // Behind a transaction-mode pooler the operator turns prepared statements off, and may want resets back.
        var settings = new NpgsqlConnectionStringBuilder(PostgreSqlPersistence.WithServerDefaults(
            "Host=db;Database=cratus;Username=app;Password=x;Timeout=15;Max Auto Prepare=0;No Reset On Close=false"));

        Assert.Equal(15, settings.Timeout);
        Assert.Equal(0, settings.MaxAutoPrepare);
        Assert.False(settings.NoResetOnClose);
    }
}
