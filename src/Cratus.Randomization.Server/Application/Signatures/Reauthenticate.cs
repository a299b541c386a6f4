using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application.Signatures;

public sealed record ReauthenticateCommand(SignedAction? Action, string RecordId, string Password, string TotpCode);

public sealed record SigningProofIssued(string SigningProof, DateTimeOffset ExpiresAt);

/// <summary>
/// Re-authenticates the caller with their own password (and TOTP code) before they sign one action on one record, and
/// answers a single-use signing proof valid for <see cref="SigningProof.Lifetime"/>. Anyone signed in: whether they
/// may take the action itself is judged when they take it.
/// </summary>
// People only: a site system has no password to re-authenticate with, and never signs.
[Permitted(TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.Pharmacist, TrialRole.Statistician, TrialRole.DsmbMember, TrialRole.Monitor, TrialRole.Administrator, TrialRole.QualityAssurance)]
public sealed class Reauthenticate(Accounts accounts) : UseCase<ReauthenticateCommand, SigningProofIssued>
{
    protected override async Task<SigningProofIssued> ExecuteAsync(Caller caller, ReauthenticateCommand command, CancellationToken ct)
    {
        var (proof, expiresAt) = await accounts.ReauthenticateAsync(caller, command.Action, command.RecordId, command.Password, command.TotpCode, ct);
        return new SigningProofIssued(proof, expiresAt);
    }
}
