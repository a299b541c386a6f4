using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Administration;

public sealed record CreateUserCommand(string UserName, string Role, IReadOnlyList<string> Sites, string Reason, string FullName = "");

public sealed record UpdateUserCommand(string UserName, bool? Active, IReadOnlyList<string>? Sites, string Reason, string? FullName = null);

public sealed record CreateSiteCommand(string Code, string Name, string Reason);

public sealed record UpdateSiteCommand(string Code, bool Active, string Reason);

/// <summary>Creates a personal account with one role and its sites; the first password is shown once.</summary>
[Permitted(TrialRole.Administrator)]
public sealed class CreateUser(UserAdministration administration) : UseCase<CreateUserCommand, (UserView User, string InitialPassword)>
{
    protected override Task<(UserView User, string InitialPassword)> ExecuteAsync(Caller caller, CreateUserCommand command, CancellationToken ct) =>
        TrialRoles.TryParse(command.Role, out var role)
            ? administration.CreateUserAsync(caller, command.UserName, command.FullName, role, command.Sites, command.Reason, ct)
            : throw TrialRuleException.Invalid("role", $"role must be one of: {string.Join(", ", Enum.GetValues<TrialRole>().Select(TrialRoles.ClaimValue))}.");
}

[Permitted(TrialRole.Administrator)]
public sealed class ListUsers(UserAdministration administration) : UseCase<Unit, IReadOnlyList<UserView>>
{
    protected override Task<IReadOnlyList<UserView>> ExecuteAsync(Caller caller, Unit command, CancellationToken ct) => administration.ListUsersAsync(ct);
}

/// <summary>Closes or reopens an account, replaces its sites, or sets its full name, with a reason.</summary>
[Permitted(TrialRole.Administrator)]
public sealed class UpdateUser(UserAdministration administration) : UseCase<UpdateUserCommand, UserView>
{
    protected override Task<UserView> ExecuteAsync(Caller caller, UpdateUserCommand command, CancellationToken ct) =>
        administration.UpdateUserAsync(caller, command.UserName, command.Active, command.Sites, command.Reason, ct, command.FullName);
}

public sealed record ResetPasswordCommand(string UserName, string Reason);

/// <summary>Gives an account a new one-time password, shown once; the person chooses their own at the next sign-in.</summary>
[Permitted(TrialRole.Administrator)]
public sealed class ResetPassword(UserAdministration administration) : UseCase<ResetPasswordCommand, (UserView User, string InitialPassword)>
{
    protected override Task<(UserView User, string InitialPassword)> ExecuteAsync(Caller caller, ResetPasswordCommand command, CancellationToken ct) =>
        administration.ResetPasswordAsync(caller, command.UserName, command.Reason, ct);
}

/// <summary>Adds a site (before the schedule is in place: its strata are fixed then).</summary>
[Permitted(TrialRole.Administrator)]
public sealed class CreateSite(UserAdministration administration) : UseCase<CreateSiteCommand, SiteView>
{
    protected override Task<SiteView> ExecuteAsync(Caller caller, CreateSiteCommand command, CancellationToken ct) =>
        administration.CreateSiteAsync(caller, command.Code, command.Name, command.Reason, ct);
}

[Permitted(TrialRole.Administrator)]
public sealed class ListSites(UserAdministration administration) : UseCase<Unit, IReadOnlyList<SiteView>>
{
    protected override Task<IReadOnlyList<SiteView>> ExecuteAsync(Caller caller, Unit command, CancellationToken ct) => administration.ListSitesAsync(ct);
}

/// <summary>Closes a site to enrolment, or reopens it.</summary>
[Permitted(TrialRole.Administrator)]
public sealed class UpdateSite(UserAdministration administration) : UseCase<UpdateSiteCommand, SiteView>
{
    protected override Task<SiteView> ExecuteAsync(Caller caller, UpdateSiteCommand command, CancellationToken ct) =>
        administration.SetSiteActiveAsync(caller, command.Code, command.Active, command.Reason, ct);
}

public sealed record RegisterSiteSystemCommand(string ClientId, string DisplayName, IReadOnlyList<string> Sites, string Reason);

public sealed record SiteSystemChange(string ClientId, string Reason);

/// <summary>Registers a site's system (EDC, IWRS) with client credentials; the secret is shown once.</summary>
[Permitted(TrialRole.Administrator)]
public sealed class RegisterSiteSystem(SiteSystems siteSystems) : UseCase<RegisterSiteSystemCommand, SiteSystemCredentials>
{
    protected override Task<SiteSystemCredentials> ExecuteAsync(Caller caller, RegisterSiteSystemCommand command, CancellationToken ct) =>
        siteSystems.RegisterAsync(caller, command.ClientId, command.DisplayName, command.Sites, command.Reason, ct);
}

/// <summary>Gives a site system a new secret (shown once); the old one and its tokens stop working.</summary>
[Permitted(TrialRole.Administrator)]
public sealed class RotateSiteSystemSecret(SiteSystems siteSystems) : UseCase<SiteSystemChange, SiteSystemCredentials>
{
    protected override Task<SiteSystemCredentials> ExecuteAsync(Caller caller, SiteSystemChange command, CancellationToken ct) =>
        siteSystems.RotateSecretAsync(caller, command.ClientId, command.Reason, ct);
}

/// <summary>Revokes a site system for good; the record stays.</summary>
[Permitted(TrialRole.Administrator)]
public sealed class RevokeSiteSystem(SiteSystems siteSystems) : UseCase<SiteSystemChange, SiteSystemView>
{
    protected override Task<SiteSystemView> ExecuteAsync(Caller caller, SiteSystemChange command, CancellationToken ct) =>
        siteSystems.RevokeAsync(caller, command.ClientId, command.Reason, ct);
}

[Permitted(TrialRole.Administrator)]
public sealed class ListSiteSystems(SiteSystems siteSystems) : UseCase<Unit, IReadOnlyList<SiteSystemView>>
{
    protected override Task<IReadOnlyList<SiteSystemView>> ExecuteAsync(Caller caller, Unit command, CancellationToken ct) => siteSystems.ListAsync(ct);
}
