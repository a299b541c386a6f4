using System.Net.Http.Headers;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Grpc.Health.V1;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// The built server as an operator starts it: from any folder, and when it cannot start, one clear line naming the
/// setting and a documented exit code (README, "Exit codes of the server"), never a stack trace.
/// </summary>
[Trait("Category", "Slow")]
[Collection(OneServerProcessTestAtATime.Name)]
public sealed class StartupTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "cratus-startup-" + Guid.NewGuid().ToString("N"));

    public StartupTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A log file still held open; the temporary folder is cleaned by the OS.
        }
    }

    /// <summary>The settings of a server started from this test's folder (not the application's: the server must find
    /// its own files wherever it is started from), with its database and logs there.</summary>
    private Dictionary<string, string> Settings(IReadOnlyDictionary<string, string> settings)
    {
        var all = new Dictionary<string, string>
        {
            ["Database:SqlitePath"] = Path.Combine(_folder, "cratus.db"),
            ["Logging:FilePath"] = Path.Combine(_folder, "logs", "cratus-.json"),
        };
        foreach (var (key, value) in settings) all[key] = value;
        return all;
    }

    [Fact]
    public async Task Start_FromAnotherFolderInDevelopment_FindsItsSettingsAndServes()
    {
        // It fails if the server exits or does not answer gRPC health with SERVING within its limit.
        await using var server = await ServerProcess.StartAsync(Settings(new Dictionary<string, string>()), environment: "Development", workingDirectory: _folder);

        var health = await server.As(token: null).Health.CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    public static TheoryData<string, Dictionary<string, string>, int, string> Refusals => new()
    {
        // Outside Development nothing committed to the repository works: here no keys at all.
        { "Production", new Dictionary<string, string>(), 2, "Token:SigningKeys" },
        // A sample from .env.example, copied unchanged.
        { "Production", new Dictionary<string, string> { ["Token:SigningKeys:0"] = "sample-signing-key-REPLACE-with-a-base64-PKCS8-RSA-key" }, 2, "does not parse" },
        { "Development", new Dictionary<string, string> { ["Trial:DefinitionPath"] = "/nonexistent/trial.json" }, 3, "Trial:DefinitionPath" },
        { "Development", new Dictionary<string, string> { ["Database:Provider"] = "PostgreSql", ["Database:ConnectionString"] = "Host=127.0.0.1;Port=1;Username=nobody;Timeout=2" }, 4, "Database:ConnectionString" },
        // SQL Server, nothing listening: the same exit code and line (no engine needed).
        { "Development", new Dictionary<string, string> { ["Database:Provider"] = "SqlServer", ["Database:ConnectionString"] = "Server=tcp:127.0.0.1,1;Database=cratus;User ID=nobody;Password=unused-password;Connect Timeout=2" }, 4, "Database:ConnectionString" },
        { "Development", new Dictionary<string, string> { ["Limits:CallTimeout"] = "00:00:00" }, 2, "CallTimeout" },
        // A production trial never runs on a movable clock (README, "Rehearsal: UAT and training").
        { "Development", new Dictionary<string, string> { ["Trial:Mode"] = "Production", ["Rehearsal:ClockControl"] = "true" }, 2, "Rehearsal:ClockControl" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Start_CannotStart_PrintsOneLineNamingTheSettingAndExitsWithItsCode(string environment, Dictionary<string, string> settings, int exitCode, string named)
    {
        var (code, output, error) = await ServerProcess.RunToExitAsync(Settings(settings), environment, workingDirectory: _folder);

        Assert.Equal(exitCode, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("cratus-server: cannot start: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output + error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output + error, StringComparison.Ordinal);
    }
}

/// <summary>A call without a usable token hears why: UNAUTHENTICATED with a reason and the RFC 6750 challenge.</summary>
public sealed class ChallengeTests
{
    [Theory]
    [InlineData("none", "TOKEN_MISSING", false)]
    [InlineData("expired", "TOKEN_EXPIRED", true)]
    [InlineData("forged", "TOKEN_INVALID", true)]
    [InlineData("audience", "TOKEN_WRONG_AUDIENCE", true)]
    public async Task Call_WithoutAUsableToken_IsUnauthenticatedWithAReasonAndABearerChallenge(string token, string reason, bool errorCode)
    {
        await using var server = new TrialServer(TestDatabase.Sqlite, onLoopback: true);
        var bearer = token switch
        {
            "expired" => server.Token(TrialRole.Monitor, lifetime: TimeSpan.FromMinutes(-2)),
            "forged" => server.Token(TrialRole.Monitor, signingKey: TestSecrets.NewSigningKey()),
            "audience" => server.Token(TrialRole.Monitor, audience: "some-other-api"),
            _ => null,
        };
        using var http = new HttpClient { BaseAddress = new Uri(server.Address!), DefaultRequestVersion = new Version(2, 0), DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/cratus.randomization.v1.TrialService/GetTrial")
        {
            Content = new ByteArrayContent([0, 0, 0, 0, 0]), Version = new Version(2, 0), VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);

        using var response = await http.SendAsync(request);
        var challenge = response.Headers.WwwAuthenticate.Single();
        var status = new TrialService.TrialServiceClient(server.Channel(bearer));
        var error = await Assert.ThrowsAsync<RpcException>(() => status.GetTrialAsync(new GetTrialRequest()).ResponseAsync);

        Assert.Equal("16", response.Headers.GetValues("grpc-status").Single());
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Equal(errorCode, challenge.Parameter?.Contains("error=\"invalid_token\"", StringComparison.Ordinal) ?? false);
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Equal(reason, error.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.DoesNotContain("IDX", error.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("kid", error.Status.Detail, StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>
/// Tests that time the server (starting processes, deadlines on a hung database): run one at a time, after the tests that run in
/// parallel, so that their limits measure the server and not the rest of the suite competing for two cores.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class OneServerProcessTestAtATime
{
    public const string Name = "timed tests, one at a time";
}
