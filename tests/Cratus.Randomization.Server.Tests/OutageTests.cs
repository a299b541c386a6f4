using System.Net;
using System.Net.Sockets;
using Cratus.Randomization.Protos.V1;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Data.SqlClient;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// The database goes away under a running service: calls fail with UNAVAILABLE and a clear message within their
/// deadline, no allocation is issued, and the service resumes by itself when the database returns.
/// </summary>
public abstract class OutageTests : OnEachDatabase
{
    private static async Task<long> ParticipantsAsync(TrialServer server) =>
        Convert.ToInt64((await server.QueryAsync("""SELECT COUNT(*) FROM "Participants" """))[0][0], System.Globalization.CultureInfo.InvariantCulture);

    private static async Task AssertUnavailableWithinDeadlineAsync(TrialServer server, string screeningId)
    {
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            server.Site().RandomizeAsync(Requests.Randomize(screeningId), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("database is busy or unavailable", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("DATABASE_UNAVAILABLE", error.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), "the answer came after the deadline");
    }

    private static async Task<RandomizeResponse> RandomizeWhenBackAsync(TrialServer server, RandomizeRequest request)
    {
        // Connections broken by the outage are dropped on first use; the service needs no restart, only a retry.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await server.Site().RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(10));
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && attempt < 5)
            {
                await Task.Delay(500);
            }
        }
    }

    private static async Task AssertHealthBecomesAsync(TrialServer server, HealthCheckResponse.Types.ServingStatus expected)
    {
        // Health answers from a result published every second; the database check itself may take its connect timeout.
        var health = new Health.HealthClient(server.Channel(token: null));
        var until = DateTime.UtcNow.AddSeconds(15);
        HealthCheckResponse.Types.ServingStatus seen;
        do
        {
            seen = (await health.CheckAsync(new HealthCheckRequest())).Status;
            if (seen == expected) return;
            await Task.Delay(250);
        }
        while (DateTime.UtcNow < until);
        Assert.Equal(expected, seen);
    }

    [ProviderFact]
    [Trait("Category", "Slow")]
    public async Task DatabaseGone_CallsAreUnavailableInTime_NothingIsAllocated_AndServiceResumes()
    {
        if (Database == TestDatabase.Sqlite)
        {
            await using var server = NewServer();
            await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "outage test" });
            await server.Site().RandomizeAsync(Requests.Randomize("BEFORE"));

            // Another process holds the file's write lock: for the service the file cannot be written.
            await using (var blocker = new SqliteConnection($"Data Source={server.DatabaseLocation};Pooling=False"))
            {
                await blocker.OpenAsync();
                await using (var begin = blocker.CreateCommand())
                {
                    begin.CommandText = "BEGIN EXCLUSIVE";
                    await begin.ExecuteNonQueryAsync();
                }
                await AssertUnavailableWithinDeadlineAsync(server, "DURING");
            }

            var after = await RandomizeWhenBackAsync(server, Requests.Randomize("AFTER"));
            Assert.Equal("R01-002", after.Assignment.RandomizationNumber);
            Assert.Equal(2, await ParticipantsAsync(server));
            return;
        }

        // PostgreSQL (or SQL Server) behind a proxy the test can cut: the database's address stops answering, as when it is stopped.
        await using var proxy = Database == TestDatabase.SqlServer
            ? TcpProxy.ToSqlServer(new SqlConnectionStringBuilder(TestDatabases.SqlServerServer!))
            : new TcpProxy(new NpgsqlConnectionStringBuilder(TestDatabases.PostgreSqlServer!));
        var database = await TestDatabases.CreateDatabaseAsync(Database);
        var viaProxy = Database == TestDatabase.SqlServer
            ? new SqlConnectionStringBuilder(database) { DataSource = $"tcp:127.0.0.1,{proxy.Port}", ConnectTimeout = 3, CommandTimeout = 5 }.ConnectionString
            : new NpgsqlConnectionStringBuilder(database) { Host = "127.0.0.1", Port = proxy.Port, Timeout = 3, CommandTimeout = 5 }.ConnectionString;
        await using (var pg = NewServer(false, new Dictionary<string, string> { ["Database:Reuse"] = viaProxy }))
        {
            await pg.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "outage test" });
            await pg.Site().RandomizeAsync(Requests.Randomize("BEFORE"));

            proxy.Cut();
            await AssertUnavailableWithinDeadlineAsync(pg, "DURING");
            await AssertHealthBecomesAsync(pg, HealthCheckResponse.Types.ServingStatus.NotServing);
            proxy.Restore();
            await AssertHealthBecomesAsync(pg, HealthCheckResponse.Types.ServingStatus.Serving);

            var after = await RandomizeWhenBackAsync(pg, Requests.Randomize("AFTER"));
            Assert.Equal("R01-002", after.Assignment.RandomizationNumber);
            Assert.Equal(2, await ParticipantsAsync(pg));
        }
        await TestDatabases.DropDatabaseAsync(Database, database);
    }
}

public sealed class OutageTestsOnSqlite : OutageTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class OutageTestsOnPostgreSql : OutageTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class OutageTestsOnSqlServer : OutageTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}

/// <summary>A loopback TCP proxy to the PostgreSQL or SQL Server that can be cut (connections dropped, new ones refused) and restored.</summary>
internal sealed class TcpProxy : IAsyncDisposable
{
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly List<TcpClient> _open = [];
    private TcpListener? _listener;
    private CancellationTokenSource _accepting = new();

    public int Port { get; }

    public TcpProxy(NpgsqlConnectionStringBuilder target) : this(target.Host ?? "127.0.0.1", target.Port)
    {
    }

    /// <summary>To the SQL Server of a connection string whose data source is "host", "host,port" or "tcp:host,port"
    /// (a named instance is found through the SQL Browser over UDP, which this proxy does not carry).</summary>
    public static TcpProxy ToSqlServer(SqlConnectionStringBuilder target)
    {
        var source = target.DataSource.StartsWith("tcp:", StringComparison.OrdinalIgnoreCase) ? target.DataSource[4..] : target.DataSource;
        if (source.Contains('\\', StringComparison.Ordinal))
            throw new InvalidOperationException($"give {TestDatabases.SqlServerVariable} the SQL Server's host and port (host,port), not an instance name");
        var parts = source.Split(',', 2);
        return new TcpProxy(parts[0] is "." or "(local)" or "localhost" ? "127.0.0.1" : parts[0],
            parts.Length == 2 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : 1433);
    }

    private TcpProxy(string host, int port)
    {
        _targetHost = host;
        _targetPort = port;
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Restore();
    }

    public void Restore()
    {
        _accepting = new CancellationTokenSource();
        _listener = new TcpListener(IPAddress.Loopback, Port);
        _listener.Start();
        _ = AcceptAsync(_listener, _accepting.Token);
    }

    public void Cut()
    {
        _accepting.Cancel();
        _listener?.Stop();
        lock (_open)
        {
            foreach (var client in _open) client.Dispose();
            _open.Clear();
        }
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await listener.AcceptTcpClientAsync(ct);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            var outbound = new TcpClient();
            try
            {
                await outbound.ConnectAsync(_targetHost, _targetPort, ct);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException)
            {
                inbound.Dispose();
                outbound.Dispose();
                continue;
            }
            lock (_open)
            {
                _open.Add(inbound);
                _open.Add(outbound);
            }
            _ = PumpAsync(inbound, outbound);
            _ = PumpAsync(outbound, inbound);
        }
    }

    private static async Task PumpAsync(TcpClient from, TcpClient to)
    {
        try
        {
            await from.GetStream().CopyToAsync(to.GetStream());
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
            // The other side went away, or the proxy was cut.
        }
        from.Dispose();
        to.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Cut();
        return ValueTask.CompletedTask;
    }
}
