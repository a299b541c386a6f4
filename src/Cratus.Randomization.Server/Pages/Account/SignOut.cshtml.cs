using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Persistence;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Cratus.Randomization.Server.Pages.Account;

/// <summary>Ends the browser session (the web application ends its own through /connect/endsession).</summary>
public sealed class SignOutModel(Accounts accounts, UserManager<TrialUser> users) : PageModel
{
    public string? SignedInAs { get; private set; }

    public async Task OnGetAsync() =>
        SignedInAs = (await HttpContext.AuthenticateAsync(OpenIdServer.WebScheme)).Principal?.Identity?.Name;

    public async Task<IActionResult> OnPostAsync(CancellationToken ct)
    {
        var name = (await HttpContext.AuthenticateAsync(OpenIdServer.WebScheme)).Principal?.Identity?.Name;
        await HttpContext.SignOutAsync(OpenIdServer.WebScheme);
        if (name is not null && await users.FindByNameAsync(name) is { } user) await accounts.RecordSignOutAsync(user, ct);
        return RedirectToPage("SignedOut");
    }
}
