using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Persistence;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using TokenOptions = Cratus.Randomization.Server.Security.TokenOptions;

namespace Cratus.Randomization.Server.Pages.Connect;

/// <summary>
/// The device flow's verification page (the OpenID Connect end-user verification endpoint): a person signed in at the
/// sign-in page enters the code a program printed (or follows its link), checks it, and allows or denies the program.
/// </summary>
public sealed class VerifyModel(UserManager<TrialUser> users, IOpenIddictApplicationManager applications, IOptions<TokenOptions> options) : PageModel
{
    public string? SignedInAs { get; private set; }
    public string? ClientName { get; private set; }
    public string? UserCode { get; private set; }
    public string? Error { get; private set; }
    public bool Done { get; private set; }

    public async Task<IActionResult> OnGetAsync(bool done = false)
    {
        if (await SessionUserAsync() is not { } user) return Challenge(new AuthenticationProperties { RedirectUri = Request.PathBase + Request.Path + Request.QueryString }, OpenIdServer.WebScheme);
        SignedInAs = user.UserName;
        Done = done;
        await ReadRequestAsync();
        if (ClientName is null && !string.IsNullOrEmpty(Request.Query["user_code"]))
            Error = "This code is not valid, or it has expired. Start again in the program to get a new one.";
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(string decision, CancellationToken ct)
    {
        if (await SessionUserAsync() is not { } user) return Challenge(OpenIdServer.WebScheme);
        SignedInAs = user.UserName;
        var request = (await HttpContext.AuthenticateAsync(OpenIdServer.ServerScheme)).Principal;
        if (request is null || string.IsNullOrEmpty(request.GetClaim(Claims.ClientId)))
        {
            Error = "This code is not valid, or it has expired. Start again in the program to get a new one.";
            return Page();
        }
        if (decision != "allow")
            return Forbid(new AuthenticationProperties { RedirectUri = "/account/signin" }, OpenIdServer.ServerScheme);
        if (Accounts.TokenRefusal(user) is { } refusal)
        {
            Error = refusal.Message;
            return Page();
        }
        await OpenIdServer.WithOwnAccountsAsync(HttpContext, async accounts =>
        {
            await accounts.RecordSignInAsync(user, $"device code ({request.GetClaim(Claims.ClientId)})", ct);
            return 0;
        });
        return SignIn(OpenIdServer.Person(user, request.GetScopes(), options.Value),
            new AuthenticationProperties { RedirectUri = "/connect/verify?done=true" }, OpenIdServer.ServerScheme);
    }

    private async Task<TrialUser?> SessionUserAsync()
    {
        var name = (await HttpContext.AuthenticateAsync(OpenIdServer.WebScheme)).Principal?.Identity?.Name;
        return name is null ? null : await users.FindByNameAsync(name);
    }

    private async Task ReadRequestAsync()
    {
        var result = await HttpContext.AuthenticateAsync(OpenIdServer.ServerScheme);
        if (result.Principal?.GetClaim(Claims.ClientId) is not { Length: > 0 } clientId) return;
        var application = await applications.FindByClientIdAsync(clientId);
        ClientName = application is null ? clientId : await applications.GetDisplayNameAsync(application) ?? clientId;
        UserCode = result.Properties?.GetTokenValue(OpenIddictServerAspNetCoreConstants.Tokens.UserCode);
    }
}
