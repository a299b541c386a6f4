using System.Text;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Cratus.Randomization.Server.Tests;

public sealed class SecurityTests
{
    [Fact]
    public async Task HealthCheck_WithoutToken_IsServing()
    {
        await using var server = new TrialServer();

        var reply = await new Health.HealthClient(server.Channel(token: null)).CheckAsync(new HealthCheckRequest());

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    [Fact]
    public async Task Call_WithoutToken_IsUnauthenticated()
    {
        await using var server = new TrialServer();

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            new TrialService.TrialServiceClient(server.Channel(token: null)).GetTrialAsync(new GetTrialRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    public static TheoryData<string> BadTokens => ["other-key", "expired", "other-issuer", "other-audience", "alg-none", "two-roles", "unknown-role"];

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Call_WithInvalidToken_IsUnauthenticated(string kind)
    {
        await using var server = new TrialServer();
        var token = kind switch
        {
            "other-key" => server.Token(TrialRole.Monitor, signingKey: Convert.ToBase64String(new byte[48])),
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
            Expires = DateTime.UtcNow.AddMinutes(5),
            Claims = new Dictionary<string, object> { ["sub"] = "x", ["role"] = role },
            SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(
                new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(Encoding.UTF8.GetBytes(server.SigningKey)), "HS256"),
        });

    [Fact]
    public async Task GetDoseOrder_SiteToken_IsPermissionDenied()
    {
        await using var server = new TrialServer();
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

    /// <summary>Walks every method of every service the server maps against <see cref="RpcPermissions"/>, for
    /// every role: a method with no entry in the table would fail here.</summary>
    [Fact]
    public async Task EveryRpc_EveryRole_AllowedExactlyAsThePermissionTableSays()
    {
        await using var server = new TrialServer();
        var services = new[] { RandomizationService.Descriptor, PharmacyService.Descriptor, TrialService.Descriptor, ScheduleService.Descriptor };
        foreach (var method in services.SelectMany(s => s.Methods))
        {
            var path = $"/{method.Service.FullName}/{method.Name}";
            Assert.True(RpcPermissions.Table.ContainsKey(path), $"{path} has no entry in RpcPermissions");
            foreach (var role in Enum.GetValues<TrialRole>())
            {
                var invoker = server.Channel(role, "UM").CreateCallInvoker();
                var call = new Method<byte[], byte[]>(MethodType.Unary, method.Service.FullName, method.Name,
                    Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
                StatusCode status;
                try
                {
                    await invoker.AsyncUnaryCall(call, null, new CallOptions(), []);
                    status = StatusCode.OK;
                }
                catch (RpcException ex)
                {
                    status = ex.StatusCode;
                }
                if (RpcPermissions.Allows(path, role))
                    Assert.True(status != StatusCode.PermissionDenied && status != StatusCode.Unauthenticated, $"{role} should reach {path}, got {status}");
                else
                    Assert.True(status == StatusCode.PermissionDenied, $"{role} should be denied {path}, got {status}");
            }
        }
    }

    [Fact]
    public void Start_OutsideDevelopmentWithTheRepositorysDevelopmentKey_Refuses()
    {
        var folder = Path.Combine(Path.GetTempPath(), "cratus-tests", Guid.NewGuid().ToString("N"));
        using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseEnvironment("Production");
            builder.UseSetting("Database:SqlitePath", Path.Combine(folder, "cratus.db"));
            builder.UseSetting("Logging:FilePath", Path.Combine(folder, "logs", "cratus-.json"));
            builder.UseSetting("Token:Issuer", "cratus-development");
            builder.UseSetting("Token:SigningKey", DevelopmentSecrets.SigningKey);
        });

        var error = Assert.ThrowsAny<Exception>(() => factory.Server);

        Assert.Contains("development key", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
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

        Assert.Contains("SigningKey", error.ToString(), StringComparison.Ordinal);
    }
}
