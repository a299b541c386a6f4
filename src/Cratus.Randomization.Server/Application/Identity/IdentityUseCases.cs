using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Identity;

public sealed record BootstrapCommand(string Secret, string UserName, string Password, string FullName = "");

public sealed record PasswordChange(string CurrentPassword, string NewPassword);

/// <summary>Creates the first administrator with the one-time bootstrap secret.</summary>
public sealed class BootstrapAdministrator(Accounts accounts) : PublicUseCase<BootstrapCommand, string>
{
    protected override async Task<string> ExecuteAsync(BootstrapCommand command, CancellationToken ct)
    {
        await accounts.BootstrapAdministratorAsync(command.Secret, command.UserName, command.FullName, command.Password, ct);
        return command.UserName;
    }
}

// People only: a site system has no password or authenticator.
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.Pharmacist, TrialRole.Statistician, TrialRole.DsmbMember, TrialRole.Monitor, TrialRole.Administrator, TrialRole.QualityAssurance)]
public sealed class BeginTotpEnrollment(Accounts accounts) : UseCase<Unit, TotpEnrollment>
{
    protected override Task<TotpEnrollment> ExecuteAsync(Caller caller, Unit command, CancellationToken ct) => accounts.BeginTotpEnrollmentAsync(caller, ct);
}

// People only: a site system has no password or authenticator.
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.Pharmacist, TrialRole.Statistician, TrialRole.DsmbMember, TrialRole.Monitor, TrialRole.Administrator, TrialRole.QualityAssurance)]
public sealed class ConfirmTotpEnrollment(Accounts accounts) : UseCase<string, IReadOnlyList<string>>
{
    protected override Task<IReadOnlyList<string>> ExecuteAsync(Caller caller, string code, CancellationToken ct) =>
        accounts.ConfirmTotpEnrollmentAsync(caller, code, ct);
}

// People only: a site system has no password or authenticator.
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.Pharmacist, TrialRole.Statistician, TrialRole.DsmbMember, TrialRole.Monitor, TrialRole.Administrator, TrialRole.QualityAssurance)]
public sealed class ChangePassword(Accounts accounts) : UseCase<PasswordChange, Unit>
{
    protected override async Task<Unit> ExecuteAsync(Caller caller, PasswordChange command, CancellationToken ct)
    {
        await accounts.ChangePasswordAsync(caller, command.CurrentPassword, command.NewPassword, ct);
        return default;
    }
}
