using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Security;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TokenOptions = Cratus.Randomization.Server.Security.TokenOptions;

namespace Cratus.Randomization.Server.Identity;

public sealed record TotpEnrollment(string SharedKey, string AuthenticatorUri);

/// <summary>
/// The embedded user store's accounts (ASP.NET Core Identity: hashed passwords, lockout, TOTP with recovery codes, the
/// password policy): checking a person's credentials for the OpenID Connect server and the signing pages, the
/// one-time creation of the first administrator, and a user's own second factor and password.
/// </summary>
public sealed partial class Accounts(
    TrialDbContext db, UserManager<TrialUser> users, AuditTrail audit, TimeProvider clock,
    IOptions<TokenOptions> tokenOptions, AccountCheck accountCheck, ILogger<Accounts> logger)
{
    // One message for every wrong credential, so a caller cannot tell a user name that exists from one that does not.
    private const string WrongCredentials = "The user name, password or authenticator code is not right.";

    /// <summary>
    /// The account of <paramref name="userName"/> if the password and, once enrolled, the authenticator code (or one of
    /// its recovery codes) are right; otherwise CredentialsInvalid or AccountLocked. Failures count toward the lockout
    /// and are audited for existing accounts. Does not judge whether the account may receive tokens
    /// (<see cref="TokenRefusal"/>).
    /// </summary>
    public async Task<TrialUser> VerifyCredentialsAsync(string? userName, string? password, string? secondFactor, CancellationToken ct)
    {
        RequireEmbedded();
        // A name no account can have is a wrong credential like any other (and is never sent to the database).
        if (!Identifiers.IsValidScreeningId(userName ?? "")) throw Unauthenticated(WrongCredentials);
        var user = await users.FindByNameAsync(userName!);
        if (user is null || !user.Active) throw Unauthenticated(WrongCredentials);
        await CheckSecretsAsync(user, new AuditActor(user.UserName!, user.Role), password, secondFactor,
            AuditActions.SignInFailed, "sign-in", WrongCredentials, ct);
        return user;
    }

    /// <summary>
    /// Re-authentication at the moment of signing (21 CFR 11.200(a)): the caller's own password, and the authenticator
    /// code where the account has enrolled TOTP, whatever the token says. A wrong one counts toward lockout like a
    /// failed sign-in and is audited. Answers a random, single-use proof for one action on one record, kept only hashed.
    /// </summary>
    public async Task<(string Proof, DateTimeOffset ExpiresAt)> ReauthenticateAsync(
        Caller caller, SignedAction? action, string recordId, string password, string totpCode, CancellationToken ct)
    {
        RequireEmbedded();
        if (action is not { } signed || !Enum.IsDefined(signed))
            throw TrialRuleException.Invalid("action", "action is required: the action you are about to sign.");
        if (SignedActions.RecordIdProblem(signed, recordId) is { } problem) throw TrialRuleException.Invalid("record_id", problem);
        var user = await users.FindByNameAsync(caller.Subject);
        if (user is null || !user.Active)
            throw Unauthenticated("Your account is not in this service's user store or is closed, so you cannot sign here.");
        var purpose = $"to sign {SignedActions.Words(signed)} of {recordId}";
        await CheckSecretsAsync(user, AuditActor.From(caller), password, totpCode, AuditActions.ReauthenticationFailed, purpose,
            "Your password or authenticator code is not right; nothing was signed. Repeated failures lock the account.", ct);
        var proof = WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        var issued = SigningProof.Issue(Application.Signatures.ElectronicSigning.HashOf(proof), user.UserName!, signed, recordId, clock.GetUtcNow());
        await db.InTransactionAsync(async t =>
        {
            db.SigningProofs.Add(issued);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.Reauthenticated, user.UserName!, t, details: purpose);
            return 0;
        }, ct);
        return (proof, issued.ExpiresAt);
    }

    /// <summary>
    /// The one check of a person's secrets, for signing in and for signing: not locked out; the password and, once
    /// enrolled, the authenticator code (or one of the account's single-use recovery codes) right. A failure counts
    /// toward the lockout and is audited as <paramref name="failedAction"/> (for <paramref name="purpose"/>), and the
    /// lockout it causes as identity.locked_out; then CredentialsInvalid with <paramref name="wrongMessage"/>.
    /// </summary>
    private async Task CheckSecretsAsync(TrialUser user, AuditActor actor, string? password, string? secondFactor,
        string failedAction, string purpose, string wrongMessage, CancellationToken ct)
    {
        if (await users.IsLockedOutAsync(user))
            throw new TrialRuleException(RefusalReason.AccountLocked, $"This account is locked after repeated failed sign-ins until {(await users.GetLockoutEndDateAsync(user))!.Value.UtcDateTime:u}. Try again then, or ask an administrator.");
        var passwordOk = await users.CheckPasswordAsync(user, password ?? "");
        var code = (secondFactor ?? "").Replace(" ", "", StringComparison.Ordinal);
        var secondFactorOk = !passwordOk || !user.TwoFactorEnabled || (code.Length > 0 && await SecondFactorOkAsync(user, code));
        if (passwordOk && secondFactorOk)
        {
            if (user.AccessFailedCount > 0) await users.ResetAccessFailedCountAsync(user);
            return;
        }
        await db.InTransactionAsync(async t =>
        {
            await users.AccessFailedAsync(user);
            await audit.AppendAsync(actor, failedAction, user.UserName!, t,
                details: $"{purpose}: {(!passwordOk ? "wrong password" : "wrong or missing authenticator code")}");
            if (await users.IsLockedOutAsync(user))
                await audit.AppendAsync(actor, AuditActions.LockedOut, user.UserName!, t, details: "locked after repeated failed sign-ins");
            return 0;
        }, ct);
        accountCheck.Forget(user.UserName!);
        LogFailedCheck(logger, user.UserName!, purpose);
        throw Unauthenticated(passwordOk && user.TwoFactorEnabled && code.Length == 0
            ? "This account needs the code from your authenticator app too (totp_code)." : wrongMessage);
    }



    /// <summary>A TOTP code, or else one of the account's single-use recovery codes (spent on use).</summary>
    private async Task<bool> SecondFactorOkAsync(TrialUser user, string code) =>
        code.Length == 6 && code.All(char.IsAsciiDigit)
            ? await users.VerifyTwoFactorTokenAsync(user, users.Options.Tokens.AuthenticatorTokenProvider, code)
            : (await users.RedeemTwoFactorRecoveryCodeAsync(user, code)).Succeeded;

    /// <summary>Why an account may not receive tokens now (closed, locked, or still holding its one-time password), in
    /// words for the person; null when it may.</summary>
    public static Refusal? TokenRefusal(TrialUser user) =>
        !user.Active ? new Refusal(RefusalReason.CredentialsInvalid, WrongCredentials)
        // ASP.NET Core Identity judges lockouts by the system clock; so does this.
        : user.LockoutEnd is { } end && end > TimeProvider.System.GetUtcNow()
            ? new Refusal(RefusalReason.AccountLocked, "This account is locked after repeated failed sign-ins. Try again later, or ask an administrator.")
        : user.MustChangePassword
            ? new Refusal(RefusalReason.PasswordChangeRequired,
                "This account still has the one-time password it was given. Sign in on the service's sign-in page once and choose your own password.")
        : null;

    /// <summary>Records a person's sign-in (the way: web, device code, password grant).</summary>
    public Task RecordSignInAsync(TrialUser user, string how, CancellationToken ct) => RecordAsync(user, AuditActions.SignedIn, how, ct);

    public Task RecordSignOutAsync(TrialUser user, CancellationToken ct) => RecordAsync(user, AuditActions.SignedOut, "", ct);

    private Task RecordAsync(TrialUser user, string action, string details, CancellationToken ct) =>
        db.InTransactionAsync(async t =>
        {
            await audit.AppendAsync(new AuditActor(user.UserName!, user.Role), action, user.UserName!, t, details: details);
            return 0;
        }, ct);

    /// <summary>Creates the first administrator from the one-time bootstrap secret, which is then spent.</summary>
    public async Task BootstrapAdministratorAsync(string secret, string userName, string fullName, string password, CancellationToken ct)
    {
        RequireEmbedded();
        UserAdministration.RequireUserName(userName);
        fullName = UserAdministration.RequireFullName(fullName);
        await db.InTransactionAsync(async t =>
        {
            var record = await db.BootstrapSecrets.SingleOrDefaultAsync(t);
            if (record is null || record.UsedAt is not null || await db.Users.AnyAsync(u => u.Role == "administrator", t))
                throw new TrialRuleException(RefusalReason.AdministratorExists, "An administrator exists already; ask them for an account.");
            if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(record.SecretHash), Encoding.ASCII.GetBytes(HashOf(secret ?? ""))))
                throw Unauthenticated("The bootstrap secret is not right.");
            record.UsedAt = clock.GetUtcNow();
            var admin = new TrialUser { UserName = userName, FullName = fullName, Role = TrialRoles.ClaimValue(TrialRole.Administrator) };
            UserAdministration.ThrowOnFailure(await users.CreateAsync(admin, password));
            await audit.AppendAsync(AuditActor.System, AuditActions.AdministratorBootstrapped, userName, t, reason: "first start");
            return 0;
        }, ct);
    }

    public async Task<TotpEnrollment> BeginTotpEnrollmentAsync(Caller caller, CancellationToken ct)
    {
        RequireEmbedded();
        var user = await CurrentAsync(caller);
        await users.ResetAuthenticatorKeyAsync(user);
        var key = (await users.GetAuthenticatorKeyAsync(user))!;
        var issuerName = Uri.EscapeDataString("CratusRandomization");
        var uri = $"otpauth://totp/{issuerName}:{Uri.EscapeDataString(user.UserName!)}?secret={key}&issuer={issuerName}&digits=6";
        return new TotpEnrollment(key, uri);
    }

    /// <summary>Turns TOTP on once a code from the new key verifies, and returns ten single-use recovery codes (shown once).</summary>
    public async Task<IReadOnlyList<string>> ConfirmTotpEnrollmentAsync(Caller caller, string code, CancellationToken ct)
    {
        RequireEmbedded();
        var user = await CurrentAsync(caller);
        if (!await users.VerifyTwoFactorTokenAsync(user, users.Options.Tokens.AuthenticatorTokenProvider, code ?? ""))
            throw new TrialRuleException(RefusalReason.AuthenticatorCodeInvalid, "The authenticator code is not right; check the device's clock and try the next code.",
                [new FieldViolation("code", "the authenticator code is not right")]);
        return await db.InTransactionAsync(async t =>
        {
            await users.SetTwoFactorEnabledAsync(user, true);
            var recoveryCodes = (await users.GenerateNewTwoFactorRecoveryCodesAsync(user, 10))!.ToList();
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.SecondFactorEnabled, user.UserName!, t, details: "10 recovery codes issued");
            return (IReadOnlyList<string>)recoveryCodes;
        }, ct);
    }

    public async Task ChangePasswordAsync(Caller caller, string currentPassword, string newPassword, CancellationToken ct)
    {
        RequireEmbedded();
        await ChangePasswordAsync(await CurrentAsync(caller), currentPassword, newPassword, ct);
    }

    /// <summary>Changes a password under the policy (12+ characters, not the user name, none of the last five), ends a
    /// one-time password, and keeps the old hash in the history.</summary>
    public async Task ChangePasswordAsync(TrialUser user, string currentPassword, string newPassword, CancellationToken ct)
    {
        RequireEmbedded();
        await db.InTransactionAsync(async t =>
        {
            var oldHash = user.PasswordHash;
            var result = await users.ChangePasswordAsync(user, currentPassword ?? "", newPassword ?? "");
            if (result.Errors.Any(e => e.Code == nameof(IdentityErrorDescriber.PasswordMismatch)))
                throw TrialRuleException.Invalid("current_password", "The current password is not right.");
            UserAdministration.ThrowOnFailure(result);
            if (oldHash is not null) db.PasswordHistory.Add(new PasswordHistoryRecord { UserId = user.Id, PasswordHash = oldHash, ChangedAt = clock.GetUtcNow() });
            if (user.MustChangePassword)
            {
                user.MustChangePassword = false;
                UserAdministration.ThrowOnFailure(await users.UpdateAsync(user));
            }
            await audit.AppendAsync(new AuditActor(user.UserName!, user.Role), AuditActions.PasswordChanged, user.UserName!, t);
            return 0;
        }, ct);
    }

    public static string HashOf(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private async Task<TrialUser> CurrentAsync(Caller caller) =>
        await users.FindByNameAsync(caller.Subject) ?? throw new TrialRuleException(RefusalReason.UserNotFound, "Your account is not in this service's user store.");

    private void RequireEmbedded()
    {
        if (tokenOptions.Value.Mode != IdentityMode.Embedded)
            throw new TrialRuleException(RefusalReason.ExternalIdentityProvider, "This service takes its users from an external identity provider; sign in there.");
    }

    internal static TrialRuleException Unauthenticated(string message) => new(RefusalReason.CredentialsInvalid, message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Wrong password or authenticator code for {UserName} ({Purpose})")]
    private static partial void LogFailedCheck(ILogger logger, string userName, string purpose);
}
