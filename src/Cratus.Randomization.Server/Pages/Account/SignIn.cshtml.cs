using System.Security.Claims;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Identity;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Cratus.Randomization.Server.Pages.Account;

/// <summary>
/// The sign-in page of the OpenID Connect server: user name, password and, once enrolled, the authenticator code (or
/// a recovery code). A one-time password leads to the password change first. Success opens a browser session
/// (cookie) from which the authorization and device endpoints issue tokens.
/// </summary>
public sealed class SignInModel(Accounts accounts) : PageModel
{
    [BindProperty] public string UserName { get; set; } = "";
    [BindProperty] public string Password { get; set; } = "";
    [BindProperty] public string? Code { get; set; }
    [BindProperty(SupportsGet = true)] public string? ReturnUrl { get; set; }

    public string? Error { get; private set; }
    public string? SignedInAs { get; private set; }

    public async Task OnGetAsync() =>
        SignedInAs = (await HttpContext.AuthenticateAsync(OpenIdServer.WebScheme)).Principal?.Identity?.Name;

    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        Persistence.TrialUser user;
        try
        {
            user = await accounts.VerifyCredentialsAsync(UserName, Password, Code, ct);
        }
        catch (TrialRuleException refused)
        {
            Error = refused.Message;
            return Page();
        }
        if (user.MustChangePassword)
            return RedirectToPage("ChangePassword", new { userName = user.UserName, returnUrl = ReturnUrl, firstSignIn = true });
        if (Accounts.TokenRefusal(user) is { } refusal)
        {
            Error = refusal.Message;
            return Page();
        }
        await accounts.RecordSignInAsync(user, "sign-in page", ct);
        await HttpContext.SignInAsync(OpenIdServer.WebScheme, Session(user.UserName!));
        return LocalRedirect(Url.IsLocalUrl(ReturnUrl) ? ReturnUrl : "/account/signin");
    }

    /// <summary>The browser session names the user only; everything else is read from the account when tokens are issued.</summary>
    internal static ClaimsPrincipal Session(string userName) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.Name, userName)], OpenIdServer.WebScheme));
}
