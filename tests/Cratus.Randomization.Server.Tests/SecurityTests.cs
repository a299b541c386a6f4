using System.Text;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Grpc.AspNetCore.Server;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Cratus.Randomization.Server.Tests;

public abstract class SecurityTests : OnEachDatabase
{
    [ProviderFact]
    public async Task HealthCheck_WithoutToken_IsServing()
    {
        await using var server = NewServer();

        var reply = await new Health.HealthClient(server.Channel(token: null)).CheckAsync(new HealthCheckRequest());

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    [ProviderFact]
    public async Task Call_WithoutToken_IsUnauthenticated()
    {
        await using var server = NewServer();

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            new TrialService.TrialServiceClient(server.Channel(token: null)).GetTrialAsync(new GetTrialRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    public static TheoryData<string> BadTokens => ["other-key", "expired", "other-issuer", "other-audience", "alg-none", "two-roles", "unknown-role"];

    [ProviderTheory]
    [MemberData(nameof(BadTokens))]
    public async Task Call_WithInvalidToken_IsUnauthenticated(string kind)
    {
        await using var server = NewServer();
        var token = kind switch
        {
            "other-key" => server.Token(TrialRole.Monitor, signingKey: TestSecrets.NewSigningKey()),
            "expired" => server.Token(TrialRole.Monitor, lifetime: TimeSpan.FromMinutes(-2)),
            "other-issuer" => server.Token(TrialRole.Monitor, issuer: "someone-else"),
            "other-audience" => server.Token(TrialRole.Monitor, audience: "another-api"),
            "alg-none" => Unsigned("""{"sub":"x","role":"monitor","iss":"cratus-tests","aud":"cratus-randomization","exp":4102444800}"""),
            "two-roles" => SignedWithRole(server, new[] { "monitor", "pharmacist" }),
            "unknown-role" => SignedWithRole(server, "superuser"),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            new TrialService.TrialServiceClient(server.Channel(token)).GetTrialAsync(new GetTrialRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    private static string Unsigned(string payload) =>
        $"{Base64Url("""{"alg":"none","typ":"JWT"}""")}.{Base64Url(payload)}.";

    private static string Base64Url(string text) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string SignedWithRole(TrialServer server, object role) =>
        new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = TrialServer.Issuer,
            Audience = TrialServer.Audience,
            IssuedAt = server.Clock.GetUtcNow().UtcDateTime,
            NotBefore = server.Clock.GetUtcNow().UtcDateTime,
            Expires = server.Clock.GetUtcNow().UtcDateTime.AddMinutes(5),
            Claims = new Dictionary<string, object> { ["sub"] = "x", ["role"] = role },
            TokenType = "at+jwt",
            SigningCredentials = TestSecrets.Credentials(server.SigningKey),
        });

    [ProviderFact]
    public async Task GetDoseOrder_SiteToken_IsPermissionDenied()
    {
        await using var server = NewServer();
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "test" });
        var assignment = (await server.Site().RandomizeAsync(Requests.Randomize("SCR-1"))).Assignment;

        foreach (var role in new[] { TrialRole.SiteCoordinator, TrialRole.Investigator })
        {
            var pharmacy = new PharmacyService.PharmacyServiceClient(server.Channel(role, "UM"));
            var error = await Assert.ThrowsAsync<RpcException>(() =>
                pharmacy.GetDoseOrderAsync(new GetDoseOrderRequest { ParticipantId = assignment.ParticipantId }).ResponseAsync);
            Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
            Assert.DoesNotContain("placebo", error.Status.Detail, StringComparison.OrdinalIgnoreCase);
        }
    }

    /// <summary>
    /// Walks every gRPC method the server actually maps (found from its endpoints, not from a list here), for every role
    /// and without a token, against the matrix written out in <see cref="PermissionMatrix"/>: a new RPC without a row
    /// fails, and so does a use case whose declared permission differs from the matrix in one cell.
    /// </summary>
    [ProviderFact]
    public async Task EveryMappedRpc_EveryRole_AllowedExactlyAsTheMatrixSays()
    {
        await using var server = NewServer();
        var methods = server.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Select(e => e.Metadata.GetMetadata<GrpcMethodMetadata>())
            .Where(m => m is not null && m.Method.Type == MethodType.Unary)
            .Select(m => m!.Method.FullName)
            .Where(m => !PermissionMatrix.IsReflection(m))
            .Distinct()
            .ToList();
        Assert.Contains("/cratus.randomization.v1.PharmacyService/GetDoseOrder", methods);
        Assert.True(methods.Count >= 34, $"only {methods.Count} methods found");
        var endpoints = server.Services.GetRequiredService<EndpointDataSource>().Endpoints;
        foreach (var path in methods.Where(m => !m.StartsWith("/grpc.health.", StringComparison.Ordinal)))
            Assert.True(endpoints.Any(e => e.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method.FullName == path && e.Metadata.GetMetadata<Grpc.RunsAttribute>() is not null),
                $"{path} names no use case ([Runs])");

        var mismatches = new List<string>();
        foreach (var path in methods)
        {
            var anonymous = PermissionMatrix.Anonymous.Contains(path);
            Assert.True(anonymous || PermissionMatrix.Allowed.ContainsKey(path), $"{path} has no row in the permission matrix");
            var (withoutToken, detail) = await CallAsync(server.Channel(token: null), path);
            // An anonymous method may still refuse empty credentials, but never for want of an access token.
            var refusedForToken = withoutToken == StatusCode.Unauthenticated && (detail.Contains("401", StringComparison.Ordinal) || detail.Contains("access token", StringComparison.Ordinal));
            if (anonymous == refusedForToken) mismatches.Add($"{path} without a token answered {withoutToken}: {detail}");
            if (anonymous) continue;
            foreach (var role in Enum.GetValues<TrialRole>())
            {
                var (status, _) = await CallAsync(server.Channel(role, "UM"), path);
                var reached = status is not StatusCode.PermissionDenied and not StatusCode.Unauthenticated and not StatusCode.Internal;
                if (PermissionMatrix.Allows(path, role) != reached || (!reached && status != StatusCode.PermissionDenied))
                    mismatches.Add($"{role} {(PermissionMatrix.Allows(path, role) ? "should reach" : "should be denied")} {path}, got {status}");
            }
        }
        Assert.True(mismatches.Count == 0, string.Join(Environment.NewLine, mismatches));
    }

    /// <summary>Every use case says who may run it: a [Permitted] declaration, or it is one of the sign-in operations.</summary>
    [Fact]
    public void EveryUseCase_DeclaresItsPermission()
    {
        Assert.True(Application.ApplicationExtensions.UseCases.Count >= 33, $"only {Application.ApplicationExtensions.UseCases.Count} use cases found");
        foreach (var useCase in Application.ApplicationExtensions.UseCases)
        {
            if (Application.ApplicationExtensions.IsPublic(useCase))
                Assert.Contains(useCase.Name, new[] { "SignIn", "RefreshSession", "BootstrapAdministrator" });
            else
                Assert.NotNull(Application.Permissions.Of(useCase));
        }
    }

    private static async Task<(StatusCode Status, string Detail)> CallAsync(CallInvoker channel, string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var call = new Method<byte[], byte[]>(MethodType.Unary, parts[0], parts[1], Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        try
        {
            await channel.AsyncUnaryCall(call, null, new CallOptions(), []);
            return (StatusCode.OK, "");
        }
        catch (RpcException ex)
        {
            return (ex.StatusCode, ex.Status.Detail);
        }
    }

    [ProviderFact]
    public void Start_OutsideDevelopmentWithoutSigningKey_Refuses()
    {
        var folder = Path.Combine(Path.GetTempPath(), "cratus-tests", Guid.NewGuid().ToString("N"));
        using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseEnvironment("Production");
            builder.UseSetting("Database:SqlitePath", Path.Combine(folder, "cratus.db"));
            builder.UseSetting("Logging:FilePath", Path.Combine(folder, "logs", "cratus-.json"));
        });

        var error = Assert.ThrowsAny<Exception>(() => factory.Server);

        Assert.Contains("Token:SigningKeys is empty", error.ToString(), StringComparison.Ordinal);
    }
}

public sealed class SecurityTestsOnSqlite : SecurityTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class SecurityTestsOnPostgreSql : SecurityTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class SecurityTestsOnSqlServer : SecurityTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
