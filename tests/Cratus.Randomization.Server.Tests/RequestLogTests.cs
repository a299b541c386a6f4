using System.Text.Json;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;

namespace Cratus.Randomization.Server.Tests;

/// <summary>The request log: one line per call naming the caller and both statuses, and nothing of the request body.</summary>
public abstract class RequestLogTests : OnEachDatabase
{
    private const string RequestLogger = "Serilog.AspNetCore.RequestLoggingMiddleware";

    /// <summary>The request log entries of <paramref name="server"/> for <paramref name="path"/>, as written to its JSON file.</summary>
    private static List<(string Line, JsonElement Properties)> RequestLines(TrialServer server, string path) =>
        [.. Directory.GetFiles(server.LogFolder).SelectMany(f =>
            {
                using var reader = new StreamReader(new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
                return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            })
            .Select(line => (Line: line, Properties: JsonDocument.Parse(line).RootElement.GetProperty("Properties").Clone()))
            .Where(e => e.Properties.TryGetProperty("SourceContext", out var source) && source.GetString() == RequestLogger
                && e.Properties.GetProperty("RequestPath").GetString() == path)];

    private static async Task<List<(string Line, JsonElement Properties)>> WaitForRequestLinesAsync(TrialServer server, string path, int count)
    {
        // The line is written when the server's pipeline ends, which may be just after the client has its answer.
        for (var i = 0; i < 100; i++)
        {
            var lines = RequestLines(server, path);
            if (lines.Count >= count) return lines;
            await Task.Delay(50);
        }
        return RequestLines(server, path);
    }

    [ProviderFact]
    public async Task Randomize_RequestLogLine_NamesTheCallerAndStatusesAndHoldsNoBody()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "request log" });
        const string screeningId = "SCR-LOGGED-4711";
        var site = new RandomizationService.RandomizationServiceClient(server.Channel(server.Token(TrialRole.SiteCoordinator, "coordinator-7", ["UM"])));

        var reply = await site.RandomizeAsync(Requests.Randomize(screeningId));
        // The same screening id again: refused with ALREADY_EXISTS, whose status message names the participant.
        var again = await Assert.ThrowsAsync<RpcException>(() => site.RandomizeAsync(Requests.Randomize(screeningId)).ResponseAsync);
        // No token: refused before any gRPC code runs.
        var anonymous = await Assert.ThrowsAsync<RpcException>(() =>
            new RandomizationService.RandomizationServiceClient(server.Channel(token: null)).RandomizeAsync(Requests.Randomize(screeningId)).ResponseAsync);

        const string path = "/cratus.randomization.v1.RandomizationService/Randomize";
        var lines = await WaitForRequestLinesAsync(server, path, 3);
        Assert.Equal(StatusCode.AlreadyExists, again.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
        Assert.Equal(3, lines.Count);
        var statuses = lines.Select(l => l.Properties.GetProperty("GrpcStatus").GetString()).ToList();
        Assert.Equal(["OK", "AlreadyExists", "Unauthenticated"], statuses);
        foreach (var (line, properties) in lines)
        {
            Assert.Equal("POST", properties.GetProperty("RequestMethod").GetString());
            Assert.Equal(200, properties.GetProperty("StatusCode").GetInt32());
            Assert.True(properties.GetProperty("Elapsed").GetDouble() >= 0);
            // Nothing of the request (the screening id, the eligibility answers) nor of the answer.
            Assert.DoesNotContain(screeningId, line, StringComparison.Ordinal);
            Assert.DoesNotContain(reply.Assignment.ParticipantId, line, StringComparison.Ordinal);
            Assert.DoesNotContain("MmseScore", line, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Equal(["coordinator-7", "coordinator-7", "anonymous"], lines.Select(l => l.Properties.GetProperty("Subject").GetString()));
        Assert.Equal(["site_coordinator", "site_coordinator", "none"], lines.Select(l => l.Properties.GetProperty("Role").GetString()));
        Assert.Contains("by coordinator-7 (site_coordinator) responded 200, gRPC OK, in ", lines[0].Line, StringComparison.Ordinal);
    }
}

public sealed class RequestLogTestsOnSqlite : RequestLogTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class RequestLogTestsOnPostgreSql : RequestLogTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class RequestLogTestsOnSqlServer : RequestLogTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
