using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Identity;

public sealed record SignInCommand(string UserName, string Password, string TotpCode);

public sealed record BootstrapCommand(string Secret, string UserName, string Password, string FullName = "");

public sealed record PasswordChange(string CurrentPassword, string NewPassword);

/// <summary>Signs in with user name, password and (once enrolled) the authenticator code.</summary>
public sealed class SignIn(Accounts accounts) : PublicUseCase<SignInCommand, SignedIn>
{
    protected override Task<SignedIn> ExecuteAsync(SignInCommand command, CancellationToken ct) =>
        accounts.LoginAsync(command.UserName, command.Password, command.TotpCode, ct);
}

/// <summary>Trades a refresh token for new tokens; a spent one is refused.</summary>
public sealed class RefreshSession(Accounts accounts) : PublicUseCase<string, SignedIn>
{
    protected override Task<SignedIn> ExecuteAsync(string refreshToken, CancellationToken ct) => accounts.RefreshAsync(refreshToken, ct);
}

/// <summary>Creates the first administrator with the one-time bootstrap secret.</summary>
public sealed class BootstrapAdministrator(Accounts accounts) : PublicUseCase<BootstrapCommand, string>
{
    protected override async Task<string> ExecuteAsync(BootstrapCommand command, CancellationToken ct)
    {
        await accounts.BootstrapAdministratorAsync(command.Secret, command.UserName, command.FullName, command.Password, ct);
        return command.UserName;
    }
}

[Permitted(AnyoneSignedIn = true)]
public sealed class BeginTotpEnrollment(Accounts accounts) : UseCase<Unit, TotpEnrollment>
{
    protected override Task<TotpEnrollment> ExecuteAsync(Caller caller, Unit command, CancellationToken ct) => accounts.BeginTotpEnrollmentAsync(caller, ct);
}

[Permitted(AnyoneSignedIn = true)]
public sealed class ConfirmTotpEnrollment(Accounts accounts) : UseCase<string, Unit>
{
    protected override async Task<Unit> ExecuteAsync(Caller caller, string code, CancellationToken ct)
    {
        await accounts.ConfirmTotpEnrollmentAsync(caller, code, ct);
        return default;
    }
}

[Permitted(AnyoneSignedIn = true)]
public sealed class ChangePassword(Accounts accounts) : UseCase<PasswordChange, Unit>
{
    protected override async Task<Unit> ExecuteAsync(Caller caller, PasswordChange command, CancellationToken ct)
    {
        await accounts.ChangePasswordAsync(caller, command.CurrentPassword, command.NewPassword, ct);
        return default;
    }
}
