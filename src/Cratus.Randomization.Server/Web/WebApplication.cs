using System.Security.Claims;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Security;
using Cratus.Randomization.Server.Web.Components;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using MudBlazor.Services;

namespace Cratus.Randomization.Server.Web;

/// <summary>
/// The web application for the people who run the trial: Blazor components rendered interactively on the server,
/// on the web port beside the OpenID Connect server. Its sign-in is a standard OpenID Connect client of that server
/// (<c>cratus-web</c>, authorization code + PKCE), whose result is kept in a cookie of its own. Every action goes
/// through the same use cases as the gRPC door (<see cref="WebDoor"/>); a page shows only what the use case it
/// declares (<see cref="PageForAttribute"/>) permits, and a forbidden page answers 403 with nothing rendered.
/// </summary>
public static partial class TrialWebApplication
{
    /// <summary>The web application's session cookie.</summary>
    public const string AppScheme = "cratus.app";
    /// <summary>Its sign-in, through the OpenID Connect server.</summary>
    public const string SignInScheme = "cratus.oidc";
    /// <summary>The default scheme: a bearer token when the request carries one (gRPC, REST), else the web session.</summary>
    public const string AutoScheme = "cratus.auto";

    /// <summary>A web session ends after this long without a request (21 CFR 11.300: automatic sign-off).</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(15);

    public static WebApplicationBuilder AddTrialWebApplication(this WebApplicationBuilder builder)
    {
        var token = builder.Configuration.GetSection(TokenOptions.Section).Get<TokenOptions>() ?? new TokenOptions();
        // The component library's files from the build output (a no-op once published, where they are in wwwroot):
        // Development does this by itself, any other environment run from a build (tests, UAT from source) needs it.
        builder.WebHost.UseStaticWebAssets();
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddMudServices();
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddScoped<WebDoor>();
        builder.Services.AddScoped<PhaseChanges>();
        builder.Services.AddSingleton<IAuthorizationPolicyProvider, PagePolicies>();
        builder.Services.AddSingleton<IAuthorizationHandler, PagePolicies.Handler>();

        var authentication = builder.Services.AddAuthentication(o =>
        {
            o.DefaultScheme = AutoScheme;
            o.DefaultChallengeScheme = AutoScheme;
        });
        authentication.AddPolicyScheme(AutoScheme, "bearer token or web session", o => o.ForwardDefaultSelector = http =>
            http.Request.Headers.Authorization.Count > 0
            || http.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true
            || http.Request.Path.StartsWithSegments("/api")
                ? JwtBearerDefaults.AuthenticationScheme
                : AppScheme);
        authentication.AddCookie(AppScheme, o =>
        {
            o.Cookie.Name = "cratus.app";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.Cookie.SecurePolicy = token.RequireHttps ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
            o.ExpireTimeSpan = IdleTimeout;
            o.SlidingExpiration = true;
            o.ForwardChallenge = SignInScheme;
            o.Events.OnRedirectToAccessDenied = context =>
            {
                // A page the role may not see: 403, and nothing of the page but a way back.
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                context.Response.ContentType = "text/html; charset=utf-8";
                return context.Response.WriteAsync(NotPermittedPage);
            };
        });
        if (token.Mode == IdentityMode.Embedded)
            authentication.AddOpenIdConnect(SignInScheme, o =>
            {
                o.SignInScheme = AppScheme;
                o.ClientId = OpenIdServer.WebClientId;
                o.ResponseType = "code";
                o.UsePkce = true;
                o.Scope.Clear();
                o.Scope.Add("openid");
                o.Scope.Add(OpenIdServer.ApiScope);
                o.MapInboundClaims = false;
                o.SaveTokens = false;
                o.GetClaimsFromUserInfoEndpoint = false;
                o.TokenValidationParameters.NameClaimType = token.SubjectClaim;
                o.TokenValidationParameters.RoleClaimType = token.RoleClaim;
                o.CallbackPath = "/signin-oidc";
                o.Events.OnRedirectToIdentityProviderForSignOut = context =>
                {
                    // The sign-in server ends its session and shows its own "signed out" page.
                    context.ProtocolMessage.PostLogoutRedirectUri = null;
                    return Task.CompletedTask;
                };
                o.Events.OnRemoteFailure = context =>
                {
                    // A denied or failed sign-in returns to the start page, signed out, with no detail in the address.
                    context.HandleResponse();
                    context.Response.Redirect("/");
                    return Task.CompletedTask;
                };
            });
        builder.Services.AddOptions<OpenIdConnectOptions>(SignInScheme).Configure<IOptions<TokenOptions>, TimeProvider>((o, tokenOptions, clock) =>
        {
            // The issuer is this host's own public address; the handler reads its discovery document and keys there.
            o.Authority = tokenOptions.Value.Issuer;
            o.RequireHttpsMetadata = tokenOptions.Value.RequireHttps;
            // Lifetimes are judged by the service's clock, the one that stamped the identity token (the real one under a trial clock).
            var skew = TimeSpan.FromSeconds(30);
            o.TokenValidationParameters.LifetimeValidator = (notBefore, expires, _, _) =>
            {
                var now = Rehearsal.TrialClock.WallOf(clock).GetUtcNow().UtcDateTime;
                return expires is { } end && end > now - skew && (notBefore is not { } start || start <= now + skew);
            };
        });
        return builder;
    }

    public static WebApplication MapTrialWebApplication(this WebApplication app)
    {
        // A browser asking for an address with no page gets the application's "not found" page (programs keep their
        // own error bodies: only requests that accept HTML are re-executed).
        app.UseWhen(http => http.Request.Headers.Accept.Any(a => a?.Contains("text/html", StringComparison.Ordinal) == true),
            branch => branch.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true));
        app.UseAntiforgery();
        // The component library's and the framework's files, as built (fingerprinted, compressed), to anyone.
        app.MapStaticAssets().AllowAnonymous();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        // Sign-in starts the OpenID Connect flow; the address to come back to must be one of this application's.
        app.MapGet("/web/signin", (string? returnUrl) => Results.Challenge(
            new AuthenticationProperties { RedirectUri = LocalAddress(returnUrl) }, [SignInScheme])).AllowAnonymous();
        // Signing out ends the web session, then the sign-in server's (which shows its "signed out" page). A form
        // post from the header; SameSite cookies keep other sites from posting it.
        app.MapPost("/web/signout", async (HttpContext http) =>
        {
            await http.SignOutAsync(AppScheme);
            return Results.SignOut(new AuthenticationProperties { RedirectUri = "/account/signedout" }, [SignInScheme]);
        }).AllowAnonymous().DisableAntiforgery();
        // Where a session that may no longer be used ends (account closed, locked or changed since sign-in).
        app.MapGet("/web/signed-out", async (HttpContext http) =>
        {
            await http.SignOutAsync(AppScheme);
            return Results.Redirect("/account/signedout");
        }).AllowAnonymous();
        // The address to open, printed once the server listens: the issuer's, since sign-in returns there.
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(TrialWebApplication));
        var tokenOptions = app.Services.GetRequiredService<IOptions<TokenOptions>>().Value;
        if (tokenOptions.Mode == IdentityMode.Embedded)
            lifetime.ApplicationStarted.Register(() => LogWebAddress(logger, tokenOptions.Issuer));
        return app;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Web application: open {Address} in a browser and sign in")]
    private static partial void LogWebAddress(ILogger logger, string address);

    private const string NotPermittedPage = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Not permitted · CRATUS randomization</title><link rel="stylesheet" href="/site.css" /></head>
        <body><main><h1>Not permitted</h1><p>Your role may not see this page.</p><p><a href="/">Back to the overview</a></p></main></body></html>
        """;

    private static string LocalAddress(string? returnUrl) =>
        returnUrl is { Length: > 0 } && returnUrl.StartsWith('/') && !returnUrl.StartsWith("//", StringComparison.Ordinal) && !returnUrl.StartsWith("/\\", StringComparison.Ordinal)
            ? returnUrl : "/";

    /// <summary>The caller a web session stands for: the same reading of its claims as for a bearer token.</summary>
    public static Application.Caller? CallerOf(ClaimsPrincipal user, CallerResolver callers) => callers.Resolve(user);
}
