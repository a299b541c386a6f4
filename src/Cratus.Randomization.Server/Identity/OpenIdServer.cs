using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using TokenOptions = Cratus.Randomization.Server.Security.TokenOptions;

namespace Cratus.Randomization.Server.Identity;

/// <summary>
/// The built-in OpenID Connect server (OpenIddict, on the service's own database): discovery and JWKS, client
/// credentials for site systems, authorization code with PKCE for the web application, the device flow for the CLI,
/// rotating refresh tokens whose reuse revokes the family, revocation and introspection, and (configured, never in
/// Production) the password grant for scripted tests. Tokens are plain signed JWTs for this service's audience.
/// </summary>
public static partial class OpenIdServer
{
    /// <summary>The cookie of the sign-in pages (the session a browser holds with this server).</summary>
    public const string WebScheme = "cratus.web";
    public const string CliClientId = "cratus-cli";
    public const string WebClientId = "cratus-web";
    /// <summary>The scope of this service's API.</summary>
    public const string ApiScope = "cratus";
    public const string ServerScheme = OpenIddictServerAspNetCoreDefaults.AuthenticationScheme;

    public static WebApplicationBuilder AddTrialOpenIdServer(this WebApplicationBuilder builder)
    {
        var token = builder.Configuration.GetSection(TokenOptions.Section).Get<TokenOptions>() ?? new TokenOptions();
        builder.Services.AddOpenIddict()
            .AddCore(o => o.UseEntityFrameworkCore().UseDbContext<TrialDbContext>());
        if (token.Mode != IdentityMode.Embedded) return builder;

        builder.Services.AddOpenIddict().AddServer(o =>
        {
            o.SetAuthorizationEndpointUris("connect/authorize")
                .SetTokenEndpointUris("connect/token")
                .SetDeviceAuthorizationEndpointUris("connect/device")
                .SetEndUserVerificationEndpointUris("connect/verify")
                .SetIntrospectionEndpointUris("connect/introspect")
                .SetRevocationEndpointUris("connect/revoke")
                .SetEndSessionEndpointUris("connect/endsession");
            o.AllowClientCredentialsFlow()
                .AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange()
                .AllowDeviceAuthorizationFlow()
                .AllowRefreshTokenFlow();
            if (token.AllowPasswordGrant) o.AllowPasswordFlow();
            o.RegisterScopes(Scopes.OpenId, Scopes.Profile, Scopes.OfflineAccess, ApiScope);
            o.SetAccessTokenLifetime(token.AccessTokenLifetime)
                .SetRefreshTokenLifetime(token.RefreshTokenLifetime)
                // A spent refresh token presented again, however soon, revokes its whole family (the authorization).
                .SetRefreshTokenReuseLeeway(TimeSpan.Zero);
            // Plain signed JWTs, readable by JwtBearer and any resource server from the JWKS.
            o.DisableAccessTokenEncryption();
            o.AddEventHandler(TokenRevocationAudit.Descriptor);
            var aspNetCore = o.UseAspNetCore()
                .EnableAuthorizationEndpointPassthrough()
                .EnableTokenEndpointPassthrough()
                .EnableEndUserVerificationEndpointPassthrough()
                .EnableEndSessionEndpointPassthrough();
            if (!token.RequireHttps) aspNetCore.DisableTransportSecurityRequirement();
        });
        // Issuer and keys come from the validated options, so the host's own checks (Development keys, parsing)
        // decide first and report one clear line.
        builder.Services.AddOptions<OpenIddictServerOptions>()
            .Configure<IOptions<TokenOptions>, IOptions<EncryptionOptions>, IHostEnvironment>((server, tokenOptions, encryption, environment) =>
            {
                server.Issuer = new Uri(tokenOptions.Value.Issuer, UriKind.Absolute);
                foreach (var credentials in SigningKeys.Load(tokenOptions.Value, environment)) server.SigningCredentials.Add(credentials);
                foreach (var key in TokenEncryptionKeys(encryption.Value))
                    server.EncryptionCredentials.Add(new EncryptingCredentials(key, SecurityAlgorithms.Aes256KW, SecurityAlgorithms.Aes256CbcHmacSha512));
            });

        builder.Services.AddAuthentication().AddCookie(WebScheme, o =>
        {
            o.LoginPath = "/account/signin";
            o.LogoutPath = "/account/signout";
            o.AccessDeniedPath = "/account/signin";
            o.Cookie.Name = "cratus.session";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.Cookie.SecurePolicy = token.RequireHttps ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
            // A session at the sign-in pages lasts a working shift, idle for at most an hour.
            o.ExpireTimeSpan = TimeSpan.FromHours(1);
            o.SlidingExpiration = true;
        });
        builder.Services.AddRazorPages(o => o.Conventions.AllowAnonymousToFolder("/"));
        return builder;
    }

    /// <summary>
    /// The keys that encrypt what only this server reads (authorization and device codes, refresh tokens): derived
    /// from the service's encryption key ring (HKDF-SHA256, one per ring key, the active one first), so every node
    /// reads every other node's codes, and rotation works as for sealed values.
    /// </summary>
    private static IEnumerable<SymmetricSecurityKey> TokenEncryptionKeys(EncryptionOptions encryption) =>
        encryption.Keys.OrderBy(k => k.Key == encryption.ActiveKeyId ? 0 : 1).Select(k =>
            new SymmetricSecurityKey(HKDF.DeriveKey(HashAlgorithmName.SHA256, Convert.FromBase64String(k.Value), 32,
                salt: [], info: Encoding.ASCII.GetBytes("cratus/openid-connect/token-encryption")))
            { KeyId = "oidc-" + k.Key });

    /// <summary>The OpenID Connect endpoints this host answers itself (the rest OpenIddict answers), and the pages.</summary>
    public static WebApplication MapTrialOpenIdServer(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<TokenOptions>>().Value.Mode != IdentityMode.Embedded) return app;
        app.MapMethods("connect/authorize", [HttpMethods.Get, HttpMethods.Post], AuthorizeAsync).AllowAnonymous().DisableAntiforgery();
        app.MapPost("connect/token", ExchangeAsync).AllowAnonymous().DisableAntiforgery();
        app.MapMethods("connect/endsession", [HttpMethods.Get, HttpMethods.Post], EndSessionAsync).AllowAnonymous().DisableAntiforgery();
        app.MapRazorPages();
        return app;
    }

    /// <summary>Authorization code (with PKCE): a browser signed in at the sign-in page gets a code for its client.</summary>
    private static async Task<IResult> AuthorizeAsync(HttpContext http, UserManager<TrialUser> users, IOptions<TokenOptions> options)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("not an OpenID Connect request");
        var session = await http.AuthenticateAsync(WebScheme);
        var user = session.Principal?.Identity?.Name is { } name ? await users.FindByNameAsync(name) : null;
        if (user is null || Accounts.TokenRefusal(user) is not null)
        {
            var query = http.Request.HasFormContentType ? QueryString.Create(http.Request.Form) : http.Request.QueryString;
            return Results.Challenge(new AuthenticationProperties { RedirectUri = http.Request.PathBase + http.Request.Path + query }, [WebScheme]);
        }
        return Results.SignIn(Person(user, request.GetScopes(), options.Value), authenticationScheme: ServerScheme);
    }

    /// <summary>The token endpoint, after OpenIddict has authenticated the client and validated the request.</summary>
    private static async Task<IResult> ExchangeAsync(HttpContext http, UserManager<TrialUser> users, TrialDbContext db, IOptions<TokenOptions> options, ILoggerFactory loggers, CancellationToken ct)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("not an OpenID Connect request");
        var logger = loggers.CreateLogger(typeof(OpenIdServer));
        if (request.IsClientCredentialsGrantType())
        {
            var client = await db.SiteSystems.FindAsync([request.ClientId], ct);
            if (client is null || client.RevokedAt is not null) return Refuse(Errors.InvalidClient, "This client is not a registered site system, or it was revoked.");
            LogClientToken(logger, client.ClientId);
            return Results.SignIn(SiteSystem(client, request.GetScopes(), options.Value), authenticationScheme: ServerScheme);
        }
        if (request.IsPasswordGrantType())
        {
            TrialUser user;
            try
            {
                user = await WithOwnAccountsAsync(http, async accounts =>
                {
                    var verified = await accounts.VerifyCredentialsAsync(request.Username, request.Password, request["totp_code"]?.ToString(), ct);
                    if (Accounts.TokenRefusal(verified) is { } refusal) throw refusal.ToException();
                    await accounts.RecordSignInAsync(verified, $"password grant ({request.ClientId})", ct);
                    return verified;
                });
            }
            catch (Domain.TrialRuleException refused)
            {
                return Refuse(Errors.InvalidGrant, refused.Message);
            }
            return Results.SignIn(Person(user, request.GetScopes(), options.Value), authenticationScheme: ServerScheme);
        }
        if (request.IsAuthorizationCodeGrantType() || request.IsDeviceCodeGrantType() || request.IsRefreshTokenGrantType())
        {
            // The grant was issued to a person; the tokens carry what the account is now, or nothing.
            var granted = (await http.AuthenticateAsync(ServerScheme)).Principal;
            var user = granted?.GetClaim(Claims.Subject) is { } subject ? await users.FindByNameAsync(subject) : null;
            if (user is null) return Refuse(Errors.InvalidGrant, "The account this grant was issued to no longer exists.");
            if (Accounts.TokenRefusal(user) is { } refusal) return Refuse(Errors.InvalidGrant, refusal.Message);
            return Results.SignIn(Person(user, granted!.GetScopes(), options.Value), authenticationScheme: ServerScheme);
        }
        return Refuse(Errors.UnsupportedGrantType, "This grant type is not supported.");
    }

    /// <summary>Signs the browser out of the sign-in pages and ends the client's session.</summary>
    private static async Task<IResult> EndSessionAsync(HttpContext http, UserManager<TrialUser> users, CancellationToken ct)
    {
        var session = await http.AuthenticateAsync(WebScheme);
        await http.SignOutAsync(WebScheme);
        if (session.Principal?.Identity?.Name is { } name && await users.FindByNameAsync(name) is { } user)
            await WithOwnAccountsAsync(http, async accounts =>
            {
                await accounts.RecordSignOutAsync(user, ct);
                return 0;
            });
        return Results.SignOut(new AuthenticationProperties { RedirectUri = "/account/signedout" }, [ServerScheme]);
    }

    /// <summary>
    /// Runs account work (credential checks, audit appends) during an OpenID Connect request on a database context of
    /// its own: each write ends by clearing its context's change tracker (<c>InTransactionAsync</c>), which would drop
    /// the token and client entities OpenIddict is tracking in the request's context and spoil their redemption.
    /// </summary>
    internal static async Task<T> WithOwnAccountsAsync<T>(HttpContext http, Func<Accounts, Task<T>> work)
    {
        await using var scope = http.RequestServices.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<Accounts>());
    }

    /// <summary>A person's tokens: subject (the user name), the one role and the sites served, for this service.</summary>
    public static ClaimsPrincipal Person(TrialUser user, IEnumerable<string> scopes, TokenOptions options) =>
        Principal(user.UserName!, user.Role, user.SiteList, scopes, options);

    private static ClaimsPrincipal SiteSystem(SiteSystemRecord client, IEnumerable<string> scopes, TokenOptions options) =>
        Principal(client.ClientId, TrialRoles.ClaimValue(TrialRole.SiteSystem), client.SiteList, scopes, options);

    private static ClaimsPrincipal Principal(string subject, string role, IEnumerable<string> sites, IEnumerable<string> scopes, TokenOptions options)
    {
        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, options.RoleClaim);
        identity.SetClaim(Claims.Subject, subject).SetClaim(Claims.Name, subject).SetClaim(options.RoleClaim, role);
        identity.SetClaims(options.SiteClaim, [.. sites]);
        identity.SetScopes(scopes);
        // The audience: this service (a token for a UAT deployment names that deployment's audience).
        identity.SetResources(options.Audience);
        // The web application reads who signed in, their role and sites from the identity token.
        identity.SetDestinations(claim => claim.Type == Claims.Name || claim.Type == options.RoleClaim || claim.Type == options.SiteClaim
            ? [Destinations.AccessToken, Destinations.IdentityToken]
            : [Destinations.AccessToken]);
        return new ClaimsPrincipal(identity);
    }

    private static IResult Refuse(string error, string description) => Results.Forbid(
        new AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        }),
        [ServerScheme]);

    [LoggerMessage(Level = LogLevel.Information, Message = "Access token issued to site system {ClientId}")]
    private static partial void LogClientToken(ILogger logger, string clientId);
}
