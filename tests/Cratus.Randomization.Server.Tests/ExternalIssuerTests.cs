using System.Security.Claims;
using System.Security.Cryptography;
using Cratus.Randomization.Protos.V1;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// A stand-in OpenID Connect issuer (as Duende IdentityServer, Entra ID or Keycloak would be): it serves a
/// discovery document and a JWKS on loopback, and signs RS256 tokens with its private key.
/// </summary>
public sealed class FakeOidcIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;
    public RSA Key { get; }
    public string Issuer { get; }

    private FakeOidcIssuer(WebApplication app, string issuer, RSA key)
    {
        _app = app;
        Issuer = issuer;
        Key = key;
    }

    public static async Task<FakeOidcIssuer> StartAsync()
    {
        // An empty content root: the test folder holds the server's appsettings.json, which is not this app's.
        var root = Directory.CreateTempSubdirectory("cratus-oidc-").FullName;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = root });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var key = RSA.Create(2048);
        var publicKey = key.ExportParameters(false);
        static string Self(HttpRequest request) => $"{request.Scheme}://{request.Host}";
        app.MapGet("/.well-known/openid-configuration", (HttpRequest request) => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = Self(request),
            ["jwks_uri"] = Self(request) + "/jwks",
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));
        app.MapGet("/jwks", () => Results.Json(new Dictionary<string, object>
        {
            ["keys"] = new[]
            {
                new Dictionary<string, string>
                {
                    ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = "issuer-key-1",
                    ["n"] = Base64UrlEncoder.Encode(publicKey.Modulus), ["e"] = Base64UrlEncoder.Encode(publicKey.Exponent),
                },
            },
        }));
        await app.StartAsync();
        var issuer = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new FakeOidcIssuer(app, issuer, key);
    }

    public string Token(DateTime now, RSA? signWith = null, string? issuer = null, string audience = "cratus-randomization", TimeSpan? lifetime = null,
        string subjectClaim = "sub", string subject = "kc-user-7") =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Issuer,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim(subjectClaim, subject), new Claim("cratus_role", "monitor")]),
            IssuedAt = now.AddMinutes(-1),
            NotBefore = now.AddMinutes(-1),
            Expires = now + (lifetime ?? TimeSpan.FromMinutes(10)),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(signWith ?? Key) { KeyId = "issuer-key-1" }, SecurityAlgorithms.RsaSha256),
        });

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        Key.Dispose();
    }
}

public abstract class ExternalIssuerTests : OnEachDatabase
{
    private TrialServer ServerTrusting(FakeOidcIssuer issuer, IReadOnlyDictionary<string, string>? settings = null) => NewServer(false, new Dictionary<string, string>
    {
        ["Token:Mode"] = "External",
        ["Token:Authority"] = issuer.Issuer,
        ["Token:Issuer"] = issuer.Issuer,
        ["Token:RequireHttpsMetadata"] = "false",
        ["Token:RoleClaim"] = "cratus_role",
    }.Concat(settings ?? new Dictionary<string, string>()).ToDictionary());

    [ProviderFact]
    public async Task RateLimit_WithAConfiguredSubjectClaim_CountsEachUserApart()
    {
        await using var issuer = await FakeOidcIssuer.StartAsync();
        // The issuer names users in preferred_username and sends no "sub" at all.
        await using var server = ServerTrusting(issuer, new Dictionary<string, string>
        {
            ["Token:SubjectClaim"] = "preferred_username", ["Limits:PermitsPerSecond"] = "1", ["Limits:Burst"] = "3",
        });
        var now = server.Clock.GetUtcNow().UtcDateTime;
        TrialService.TrialServiceClient As(string user) =>
            new(server.Channel(issuer.Token(now, subjectClaim: "preferred_username", subject: user)));
        var busy = As("alice");
        RpcException? refused = null;
        for (var i = 0; i < 10 && refused is null; i++)
        {
            try
            {
                await busy.GetTrialAsync(new GetTrialRequest());
            }
            catch (RpcException ex)
            {
                refused = ex;
            }
        }

        // Another user of the same issuer, from the same address, right after: a whole burst of its own (one shared
        // bucket, empty now, would refill by one call a second at most).
        var other = As("bob");
        var answers = new List<string>();
        for (var i = 0; i < 3; i++) answers.Add((await other.GetTrialAsync(new GetTrialRequest())).TrialId);

        Assert.Equal(StatusCode.ResourceExhausted, refused?.StatusCode);
        Assert.Equal("RATE_LIMITED", refused?.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.Equal(["CRATUS", "CRATUS", "CRATUS"], answers);
    }

    [ProviderFact]
    public async Task ExternalToken_SignedByTheIssuersPublishedKey_IsAccepted()
    {
        await using var issuer = await FakeOidcIssuer.StartAsync();
        await using var server = ServerTrusting(issuer);

        var trial = await new TrialService.TrialServiceClient(server.Channel(issuer.Token(server.Clock.GetUtcNow().UtcDateTime)))
            .GetTrialAsync(new GetTrialRequest());

        Assert.Equal("CRATUS", trial.TrialId);
    }

    public static TheoryData<string> Forged => ["other-key", "other-issuer", "other-audience", "expired", "alg-none", "hmac-with-embedded-key"];

    [ProviderTheory]
    [MemberData(nameof(Forged))]
    public async Task ExternalToken_NotFromTheTrustedIssuer_IsUnauthenticated(string kind)
    {
        await using var issuer = await FakeOidcIssuer.StartAsync();
        await using var server = ServerTrusting(issuer);
        var now = server.Clock.GetUtcNow().UtcDateTime;
        using var otherKey = RSA.Create(2048);
        var token = kind switch
        {
            "other-key" => issuer.Token(now, signWith: otherKey),
            "other-issuer" => issuer.Token(now, issuer: "https://evil.example"),
            "other-audience" => issuer.Token(now, audience: "some-other-api"),
            "expired" => issuer.Token(now, lifetime: TimeSpan.FromMinutes(-5)),
            "alg-none" => Base64UrlEncoder.Encode("""{"alg":"none","typ":"JWT"}""") + "." +
                Base64UrlEncoder.Encode($$"""{"sub":"x","cratus_role":"monitor","iss":"{{issuer.Issuer}}","aud":"cratus-randomization","exp":4102444800}""") + ".",
            "hmac-with-embedded-key" => server.Token(Security.TrialRole.Monitor, issuer: issuer.Issuer),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            new TrialService.TrialServiceClient(server.Channel(token)).GetTrialAsync(new GetTrialRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    /// <summary>
    /// A second deployment of this service, its built-in OpenID Connect server on loopback, is the external issuer:
    /// this one validates the tokens it issues from its discovery document and JWKS alone (real HTTP), with no key
    /// shared, and refuses tokens of a third key.
    /// </summary>
    [ProviderFact]
    public async Task ExternalIssuer_AnotherDeploymentOfThisService_ItsTokensAreValidatedFromDiscoveryAndJwks()
    {
        await using var issuing = new TrialServer(TestDatabase.Sqlite, onLoopback: true, new Dictionary<string, string>());
        var issuer = issuing.WebAddress + "/";
        var registered = await new AdministrationService.AdministrationServiceClient(issuing.Channel(Security.TrialRole.Administrator))
            .RegisterSiteSystemAsync(new RegisterSiteSystemRequest { ClientId = "edc-um", DisplayName = "EDC at UM", Sites = { "UM" }, Reason = "go-live" });
        using var oidc = issuing.OpenId();
        var token = await oidc.TokenAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = "edc-um", ["client_secret"] = registered.ClientSecret });
        await using var server = NewServer(false, new Dictionary<string, string>
        {
            ["Token:Mode"] = "External",
            ["Token:Authority"] = issuer,
            ["Token:Issuer"] = TestSecrets.Issuer,
            ["Token:RequireHttpsMetadata"] = "false",
        });

        var overview = await new TrialService.TrialServiceClient(server.Channel(token.AccessToken)).GetTrialAsync(new GetTrialRequest());
        var forged = await Assert.ThrowsAsync<RpcException>(() => new TrialService.TrialServiceClient(
            server.Channel(TestSecrets.Sign(TestSecrets.NewSigningKey(), Security.TrialRole.SiteSystem, "edc-um", ["UM"], DateTimeOffset.UtcNow))).GetTrialAsync(new GetTrialRequest()).ResponseAsync);

        Assert.NotEmpty(overview.Sites);
        Assert.Equal(StatusCode.Unauthenticated, forged.StatusCode);
    }

    [ProviderFact]
    public async Task ChangePassword_WithAnExternalIssuer_PointsToTheIssuer()
    {
        await using var issuer = await FakeOidcIssuer.StartAsync();
        await using var server = ServerTrusting(issuer);

        var error = await Assert.ThrowsAsync<RpcException>(() => new IdentityService.IdentityServiceClient(server.Channel(issuer.Token(server.Clock.GetUtcNow().UtcDateTime)))
            .ChangePasswordAsync(new ChangePasswordRequest { CurrentPassword = "a", NewPassword = "b" }).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("external identity provider", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("EXTERNAL_IDENTITY_PROVIDER", error.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
    }
}

public sealed class ExternalIssuerTestsOnSqlite : ExternalIssuerTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class ExternalIssuerTestsOnPostgreSql : ExternalIssuerTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class ExternalIssuerTestsOnSqlServer : ExternalIssuerTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
