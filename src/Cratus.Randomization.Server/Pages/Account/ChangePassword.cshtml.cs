using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Identity;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Cratus.Randomization.Server.Pages.Account;

/// <summary>Changes a password under the policy, with the current one (at first sign-in, the one-time password), then
/// opens the browser session.</summary>
public sealed class ChangePasswordModel(Accounts accounts) : PageModel
{
    [BindProperty(SupportsGet = true)] public string UserName { get; set; } = "";
    [BindProperty] public string CurrentPassword { get; set; } = "";
    [BindProperty] public string? Code { get; set; }
    [BindProperty] public string NewPassword { get; set; } = "";
    [BindProperty] public string ConfirmPassword { get; set; } = "";
    [BindProperty(SupportsGet = true)] public string? ReturnUrl { get; set; }
    [BindProperty(SupportsGet = true)] public bool FirstSignIn { get; set; }

    public string? Error { get; private set; }

    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        if (NewPassword != ConfirmPassword)
        {
            Error = "The two new passwords are not the same.";
            return Page();
        }
        try
        {
            var user = await accounts.VerifyCredentialsAsync(UserName, CurrentPassword, Code, ct);
            await accounts.ChangePasswordAsync(user, CurrentPassword, NewPassword, ct);
            if (Accounts.TokenRefusal(user) is { } refusal)
            {
                Error = refusal.Message;
                return Page();
            }
            await accounts.RecordSignInAsync(user, "sign-in page (password changed)", ct);
            await HttpContext.SignInAsync(OpenIdServer.WebScheme, SignInModel.Session(user.UserName!));
            return LocalRedirect(Url.IsLocalUrl(ReturnUrl) ? ReturnUrl : "/account/signin");
        }
        catch (TrialRuleException refused)
        {
            Error = refused.Message;
            return Page();
        }
    }
}
