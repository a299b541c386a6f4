using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Grpc.Core;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// The built-in OpenID Connect server end to end over real HTTP, and its tokens used over real gRPC: discovery, JWKS
/// and errors checked from outside; client credentials for a site system; the device flow of the CLI through the
/// verification page; authorization code with PKCE through the sign-in page; revocation and introspection.
/// </summary>
public abstract class OpenIdConnectTests : OnEachDatabase
{
    private const string Callback = "http://localhost/callback";

    private TrialServer Server() => NewServer(false, new Dictionary<string, string> { ["Token:WebRedirectUris:0"] = Callback });

    private static ErrorInfoReason ReasonOf(RpcException e) => new(e.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);

    private sealed record ErrorInfoReason(string? Value);

    private static Dictionary<string, string> Form(params (string Key, string Value)[] fields) => fields.ToDictionary(f => f.Key, f => f.Value);

    private static async Task<RegisterSiteSystemResponse> RegisterAsync(TrialServer server, string clientId, params string[] sites) =>
        await new AdministrationService.AdministrationServiceClient(server.Channel(TrialRole.Administrator))
            .RegisterSiteSystemAsync(new RegisterSiteSystemRequest { ClientId = clientId, DisplayName = $"EDC {clientId}", Sites = { sites }, Reason = "go-live" });

    private static Task<OpenIdAnswer> ClientCredentialsAsync(OpenIdTestClient oidc, string clientId, string secret) =>
        oidc.TokenAsync(Form(("grant_type", "client_credentials"), ("client_id", clientId), ("client_secret", secret), ("scope", "cratus")));

    [ProviderFact]
    public async Task Discovery_Jwks_AndTokenErrors_AreWhatAnyClientOrResourceServerExpects()
    {
        await using var server = Server();
        using var oidc = server.OpenId();
        server.EnsureAccount(TrialRole.Monitor, "mona", []);

        using var discovery = JsonDocument.Parse(await oidc.Http.GetStringAsync(".well-known/openid-configuration"));
        using var jwks = JsonDocument.Parse(await oidc.Http.GetStringAsync(".well-known/jwks"));
        var token = await oidc.PasswordAsync("mona", Signing.Password);
        var unknownClient = await oidc.TokenAsync(Form(("grant_type", "client_credentials"), ("client_id", "nobody"), ("client_secret", "x")));
        var badGrant = await oidc.TokenAsync(Form(("grant_type", "refresh_token"), ("client_id", OpenIdTestClient.CliClient), ("refresh_token", "not-a-token")));
        var unsupported = await oidc.TokenAsync(Form(("grant_type", "urn:example:magic"), ("client_id", OpenIdTestClient.CliClient)));
        var missing = await oidc.TokenAsync(Form(("client_id", OpenIdTestClient.CliClient)));

        var root = discovery.RootElement;
        Assert.Equal(TestSecrets.Issuer, root.GetProperty("issuer").GetString());
        foreach (var endpoint in new[] { "token_endpoint", "authorization_endpoint", "device_authorization_endpoint", "revocation_endpoint", "introspection_endpoint", "jwks_uri" })
            Assert.StartsWith(TestSecrets.Issuer, root.GetProperty(endpoint).GetString(), StringComparison.Ordinal);
        var grants = root.GetProperty("grant_types_supported").EnumerateArray().Select(g => g.GetString()).ToList();
        Assert.Contains("client_credentials", grants);
        Assert.Contains("authorization_code", grants);
        Assert.Contains("urn:ietf:params:oauth:grant-type:device_code", grants);
        Assert.Contains("refresh_token", grants);
        Assert.Contains("S256", root.GetProperty("code_challenge_methods_supported").EnumerateArray().Select(m => m.GetString()));
        // Public keys only, asymmetric, each named; and they alone verify the server's access token.
        var keys = jwks.RootElement.GetProperty("keys").EnumerateArray().ToList();
        Assert.NotEmpty(keys);
        Assert.All(keys, k =>
        {
            Assert.Contains(k.GetProperty("kty").GetString(), new[] { "RSA", "EC" });
            Assert.False(k.TryGetProperty("d", out _), "a JWKS must never publish a private key");
            Assert.False(string.IsNullOrEmpty(k.GetProperty("kid").GetString()));
        });
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = TestSecrets.Issuer,
            ValidAudience = TestSecrets.Audience,
            IssuerSigningKeys = new JsonWebKeySet(jwks.RootElement.GetRawText()).GetSigningKeys(),
            LifetimeValidator = (_, _, _, _) => true, // the server's clock is the test's fake one
        });
        Assert.True(validation.IsValid, validation.Exception?.Message);
        Assert.Equal("at+jwt", ((JsonWebToken)validation.SecurityToken).Typ);
        Assert.Equal(("invalid_client", HttpStatusCode.Unauthorized), (unknownClient.Error, unknownClient.Status));
        Assert.Equal("invalid_grant", badGrant.Error);
        Assert.Equal("unsupported_grant_type", unsupported.Error);
        Assert.Equal("invalid_request", missing.Error);
        Assert.All(new[] { unknownClient, badGrant, unsupported, missing }, a => Assert.False(string.IsNullOrEmpty(a.Get("error_description"))));
    }

    [ProviderFact]
    public async Task ClientCredentials_SiteSystem_ActsAtItsSiteOnly_AndRotationAndRevocationEndIt()
    {
        await using var server = Server();
        var admin = new AdministrationService.AdministrationServiceClient(server.Channel(TrialRole.Administrator));
        await admin.CreateSiteAsync(new CreateSiteRequest { Code = "JH", Name = "Johns Hopkins", Reason = "second site" });
        await server.Statistician().GenerateScheduleAsync(new GenerateScheduleRequest { Reason = "initial" });
        var otherSite = (await server.Site("JH").RandomizeAsync(Requests.Randomize("JH-1", site: "JH"))).Assignment.ParticipantId;
        var registered = await RegisterAsync(server, "edc-um", "UM");
        using var oidc = server.OpenId();

        var issued = await ClientCredentialsAsync(oidc, "edc-um", registered.ClientSecret);
        var wrongSecret = await ClientCredentialsAsync(oidc, "edc-um", "guess");
        var edc = server.As(issued.AccessToken);
        var randomized = await edc.Randomization.RandomizeAsync(Requests.Randomize("EDC-1"));
        var atOtherSite = await Assert.ThrowsAsync<RpcException>(() => edc.Randomization.RandomizeAsync(Requests.Randomize("EDC-2", site: "JH")).ResponseAsync);
        var otherSitesParticipant = await Assert.ThrowsAsync<RpcException>(() => edc.Randomization.GetAssignmentAsync(new GetAssignmentRequest { ParticipantId = otherSite }).ResponseAsync);
        var unblind = await Assert.ThrowsAsync<RpcException>(() => edc.Unblinding.EmergencyUnblindAsync(new EmergencyUnblindRequest { ParticipantId = randomized.Assignment.ParticipantId, Reason = "x" }).ResponseAsync);
        var rotated = await admin.RotateSiteSystemSecretAsync(new RotateSiteSystemSecretRequest { ClientId = "edc-um", Reason = "secret exposed in a ticket" });
        var oldSecret = await ClientCredentialsAsync(oidc, "edc-um", registered.ClientSecret);
        var oldToken = await Assert.ThrowsAsync<RpcException>(() => edc.Trial.GetTrialAsync(new GetTrialRequest()).ResponseAsync);
        var newToken = await ClientCredentialsAsync(oidc, "edc-um", rotated.ClientSecret);
        await server.As(newToken.AccessToken).Trial.GetTrialAsync(new GetTrialRequest());
        await admin.RevokeSiteSystemAsync(new RevokeSiteSystemRequest { ClientId = "edc-um", Reason = "system retired" });
        var afterRevoke = await Assert.ThrowsAsync<RpcException>(() => server.As(newToken.AccessToken).Trial.GetTrialAsync(new GetTrialRequest()).ResponseAsync);
        var revokedSecret = await ClientCredentialsAsync(oidc, "edc-um", rotated.ClientSecret);
        var listed = (await admin.ListSiteSystemsAsync(new ListSiteSystemsRequest())).SiteSystems.Single();

        Assert.NotEqual(registered.ClientSecret, rotated.ClientSecret);
        Assert.InRange(int.Parse(issued.Get("expires_in")!, System.Globalization.CultureInfo.InvariantCulture), 295, 300);
        Assert.Null(issued.RefreshToken);
        Assert.Equal("invalid_client", wrongSecret.Error);
        Assert.Equal("UM", randomized.Assignment.SiteCode);
        Assert.Equal(StatusCode.PermissionDenied, atOtherSite.StatusCode);
        Assert.Equal(StatusCode.NotFound, otherSitesParticipant.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, unblind.StatusCode);
        Assert.Equal("invalid_client", oldSecret.Error);
        Assert.Equal(new ErrorInfoReason("ACCOUNT_CHANGED"), ReasonOf(oldToken));
        Assert.Equal(new ErrorInfoReason("ACCOUNT_CHANGED"), ReasonOf(afterRevoke));
        Assert.Equal("invalid_client", revokedSecret.Error);
        Assert.NotNull(listed.RevokedAt);
        var events = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 200 })).Events;
        Assert.Contains(events, e => e is { Action: "participant.randomized", User: "edc-um", Role: "site_system" });
        Assert.Contains(events, e => e is { Action: "site_system.registered", Target: "edc-um" });
        Assert.Contains(events, e => e is { Action: "site_system.secret_rotated", Target: "edc-um" });
        Assert.Contains(events, e => e is { Action: "site_system.revoked", Target: "edc-um" });
        Assert.DoesNotContain(events, e => e.Details.Contains(registered.ClientSecret, StringComparison.Ordinal) || e.Details.Contains(rotated.ClientSecret, StringComparison.Ordinal));
    }

    [ProviderFact]
    public async Task DeviceFlow_TheCliWaitsWhileThePersonConfirmsTheCodeOnTheVerificationPage()
    {
        await using var server = Server();
        server.EnsureAccount(TrialRole.Statistician, "stan", []);
        using var cli = server.OpenId();
        using var browser = server.OpenId();

        var device = await cli.PostAsync("connect/device", Form(("client_id", OpenIdTestClient.CliClient), ("scope", "openid offline_access cratus")));
        var userCode = device.Get("user_code")!;
        Dictionary<string, string> Poll() => Form(("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("client_id", OpenIdTestClient.CliClient), ("device_code", device.Get("device_code")!));
        var pending = await cli.TokenAsync(Poll());
        var verifyPage = "connect/verify?user_code=" + Uri.EscapeDataString(userCode);
        var unsigned = await browser.Http.GetAsync(verifyPage);
        var signIn = await browser.SignInPageAsync("stan", Signing.Password, returnUrl: "/" + verifyPage);
        var page = await browser.Http.GetStringAsync(verifyPage);
        var allowed = await browser.SubmitAsync(verifyPage, Form(("user_code", userCode), ("decision", "allow")));
        var tokens = await cli.TokenAsync(Poll());
        await server.As(tokens.AccessToken).Unblinding.ListUnblindingRequestsAsync(new ListUnblindingRequestsRequest());
        var again = await cli.TokenAsync(Poll());
        // OpenIddict revoked the family on the replay; this node rereads the token's state within the check interval.
        server.Clock.Advance(TimeSpan.FromSeconds(31));
        var afterReplay = await Assert.ThrowsAsync<RpcException>(() => server.As(tokens.AccessToken).Unblinding.ListUnblindingRequestsAsync(new ListUnblindingRequestsRequest()).ResponseAsync);

        Assert.StartsWith(TestSecrets.Issuer + "connect/verify", device.Get("verification_uri"), StringComparison.Ordinal);
        Assert.Equal("authorization_pending", pending.Error);
        Assert.Equal(HttpStatusCode.Redirect, unsigned.StatusCode);
        Assert.Contains("/account/signin", unsigned.Headers.Location!.OriginalString, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        Assert.Contains("cratus command line", page, StringComparison.Ordinal);
        Assert.Contains(WebUtility.HtmlEncode(userCode), page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, allowed.StatusCode);
        Assert.NotNull(tokens.RefreshToken);
        Assert.Equal("stan", new JsonWebToken(tokens.AccessToken).Subject);
        // A device code presented again after it was used: refused, and the tokens it gave are revoked with it.
        Assert.Equal("invalid_grant", again.Error);
        Assert.Equal(new ErrorInfoReason("ACCOUNT_CHANGED"), ReasonOf(afterReplay));
    }

    [ProviderFact]
    public async Task AuthorizationCode_WithPkce_SignsInThroughTheSignInPage_AndTheVerifierIsRequired()
    {
        await using var server = Server();
        server.EnsureAccount(TrialRole.Monitor, "moira", []);
        using var browser = server.OpenId();
        var verifier = WebEncode(RandomNumberGenerator.GetBytes(32));
        var challenge = WebEncode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        string Authorize() => "connect/authorize?" + string.Join('&', Form(("client_id", "cratus-web"), ("response_type", "code"), ("redirect_uri", Callback),
            ("scope", "openid offline_access cratus"), ("code_challenge", challenge), ("code_challenge_method", "S256"), ("state", "s-42"))
            .Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value)}"));

        var withoutPkce = await browser.Http.GetAsync(Authorize().Replace("code_challenge", "x_challenge", StringComparison.Ordinal));
        var first = await browser.Http.GetAsync(Authorize());
        var returnUrl = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(first.Headers.Location!.Query)["ReturnUrl"].ToString();
        var signedIn = await browser.SignInPageAsync("moira", Signing.Password, returnUrl: returnUrl);
        var back = await browser.Http.GetAsync(signedIn.Headers.Location!.OriginalString.TrimStart('/'));
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(back.Headers.Location!.Query);
        Dictionary<string, string> Exchange(string code, string codeVerifier) =>
            Form(("grant_type", "authorization_code"), ("client_id", "cratus-web"), ("code", code), ("redirect_uri", Callback), ("code_verifier", codeVerifier));
        var wrongVerifier = await browser.TokenAsync(Exchange(query["code"].ToString(), WebEncode(RandomNumberGenerator.GetBytes(32))));
        // Signed in now: the next authorization request is answered with a code at once.
        var again = await browser.Http.GetAsync(Authorize());
        var tokens = await browser.TokenAsync(Exchange(Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(again.Headers.Location!.Query)["code"].ToString(), verifier));

        // Refused on the spot (no code, no redirect): the client must send a PKCE challenge.
        Assert.Equal(HttpStatusCode.BadRequest, withoutPkce.StatusCode);
        Assert.Contains("invalid_request", await withoutPkce.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("/account/signin", first.Headers.Location!.OriginalString, StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith(Callback, back.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Equal("s-42", query["state"].ToString());
        Assert.Equal("invalid_grant", wrongVerifier.Error);
        Assert.StartsWith(Callback, again.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Equal("moira", new JsonWebToken(tokens.AccessToken).Subject);
        await server.As(tokens.AccessToken).Audit.ListAuditEventsAsync(new ListAuditEventsRequest());
    }

    [ProviderFact]
    public async Task Revocation_AndIntrospection_AreStandard_AndRevocationIsAudited()
    {
        await using var server = Server();
        server.EnsureAccount(TrialRole.Pharmacist, "phil", []);
        var registered = await RegisterAsync(server, "edc-um", "UM");
        using var oidc = server.OpenId();
        var person = await oidc.PasswordGrantAsync("phil", Signing.Password);
        var system = await ClientCredentialsAsync(oidc, "edc-um", registered.ClientSecret);
        Dictionary<string, string> Introspect(string token) => Form(("client_id", "edc-um"), ("client_secret", registered.ClientSecret), ("token", token));

        var activeBefore = await oidc.PostAsync("connect/introspect", Introspect(system.AccessToken!));
        var byPublicClient = await oidc.PostAsync("connect/introspect", Form(("client_id", OpenIdTestClient.CliClient), ("token", system.AccessToken!)));
        var revoked = await oidc.PostAsync("connect/revoke", Form(("client_id", OpenIdTestClient.CliClient), ("token", person.RefreshToken!)));
        var refreshAfter = await oidc.TokenAsync(Form(("grant_type", "refresh_token"), ("client_id", OpenIdTestClient.CliClient), ("refresh_token", person.RefreshToken!)));
        var systemRevoked = await oidc.PostAsync("connect/revoke", Form(("client_id", "edc-um"), ("client_secret", registered.ClientSecret), ("token", system.AccessToken!)));
        var activeAfter = await oidc.PostAsync("connect/introspect", Introspect(system.AccessToken!));
        var call = await Assert.ThrowsAsync<RpcException>(() => server.As(system.AccessToken).Trial.GetTrialAsync(new GetTrialRequest()).ResponseAsync);

        Assert.True(activeBefore.Json.GetProperty("active").GetBoolean());
        Assert.Equal("edc-um", activeBefore.Get("sub"));
        Assert.NotNull(byPublicClient.Error);
        Assert.Equal(HttpStatusCode.OK, revoked.Status);
        Assert.Equal("invalid_grant", refreshAfter.Error);
        Assert.Equal(HttpStatusCode.OK, systemRevoked.Status);
        Assert.False(activeAfter.Json.GetProperty("active").GetBoolean());
        Assert.Equal(new ErrorInfoReason("ACCOUNT_CHANGED"), ReasonOf(call));
        var events = (await server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "identity.token_revoked" })).Events;
        Assert.Contains(events, e => e is { User: "phil", Role: "pharmacist" } && e.Details.Contains("refresh_token", StringComparison.Ordinal));
        Assert.Contains(events, e => e is { User: "edc-um", Role: "site_system" } && e.Details.Contains("access_token", StringComparison.Ordinal));
    }

    [ProviderFact]
    public async Task TokenEndpoint_BeyondTheRateLimit_AnswersTooManyRequestsWithRetryAfter()
    {
        // 60 a minute: a burst of 6, then one a second.
        await using var server = NewServer(false, new Dictionary<string, string> { ["Limits:TokenEndpointPermitsPerMinute"] = "60" });
        using var oidc = server.OpenId();

        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 10; i++)
            answers.Add(await oidc.Http.PostAsync("connect/token", new FormUrlEncodedContent(Form(("grant_type", "password"), ("client_id", OpenIdTestClient.CliClient),
                ("username", "nobody"), ("password", "guess-" + i)))));

        Assert.Contains(answers, a => a.StatusCode == HttpStatusCode.BadRequest);
        var limited = answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.InRange(limited.Count, 3, 4);
        Assert.All(limited, a => Assert.Equal("1", a.Headers.RetryAfter?.ToString()));
        using var body = JsonDocument.Parse(await limited[0].Content.ReadAsStringAsync());
        Assert.Equal("temporarily_unavailable", body.RootElement.GetProperty("error").GetString());
    }

    /// <summary>No password, client secret, token or authenticator code in any log line of a run through every flow.</summary>
    [ProviderFact]
    public async Task Logs_OfSignInsAndTokenUse_HoldNoSecret()
    {
        await using var server = Server();
        server.EnsureAccount(TrialRole.Monitor, "mona", []);
        var registered = await RegisterAsync(server, "edc-um", "UM");
        using var oidc = server.OpenId();
        var person = await oidc.PasswordGrantAsync("mona", Signing.Password);
        var wrong = await oidc.PasswordGrantAsync("mona", "a-wrong-password-xyz", "123456");
        var system = await ClientCredentialsAsync(oidc, "edc-um", registered.ClientSecret);
        await ClientCredentialsAsync(oidc, "edc-um", "a-guessed-secret-xyz");
        await server.As(person.AccessToken).Trial.GetTrialAsync(new GetTrialRequest());
        await server.As(system.AccessToken).Trial.GetTrialAsync(new GetTrialRequest());
        await oidc.SignInPageAsync("mona", "another-wrong-password");
        await server.StopAsync();

        var logs = string.Join('\n', Directory.EnumerateFiles(server.LogFolder).Select(File.ReadAllText));
        Assert.Equal("invalid_grant", wrong.Error);
        Assert.Contains("mona", logs, StringComparison.Ordinal);
        foreach (var secret in new[] { Signing.Password, "a-wrong-password-xyz", "another-wrong-password", "123456", registered.ClientSecret, "a-guessed-secret-xyz",
                     person.AccessToken!, person.RefreshToken!, system.AccessToken! })
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
    }

    private static string WebEncode(byte[] bytes) => Microsoft.AspNetCore.WebUtilities.WebEncoders.Base64UrlEncode(bytes);
}

public sealed class OpenIdConnectTestsOnSqlite : OpenIdConnectTests
{
    protected override TestDatabase Database => TestDatabase.Sqlite;
}

public sealed class OpenIdConnectTestsOnPostgreSql : OpenIdConnectTests, IRunsOnPostgreSql
{
    protected override TestDatabase Database => TestDatabase.PostgreSql;
}

public sealed class OpenIdConnectTestsOnSqlServer : OpenIdConnectTests, IRunsOnSqlServer
{
    protected override TestDatabase Database => TestDatabase.SqlServer;
}
