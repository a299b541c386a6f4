using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Security;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TokenOptions = Cratus.Randomization.Server.Security.TokenOptions;

namespace Cratus.Randomization.Server.Identity;

public sealed record SignedIn(IssuedTokens Tokens, string Role, IReadOnlyList<string> Sites);

public sealed record TotpEnrollment(string SharedKey, string AuthenticatorUri);

/// <summary>
/// Signing in to the embedded user store (ASP.NET Core Identity: hashed passwords, lockout, optional TOTP),
/// refreshing, the one-time creation of the first administrator, and a user's own second factor and password.
/// </summary>
public sealed partial class Accounts(
    TrialDbContext db, UserManager<TrialUser> users, TokenIssuer issuer, AuditTrail audit, TimeProvider clock,
    IOptions<TokenOptions> tokenOptions, ILogger<Accounts> logger)
{
    // One message for every wrong credential, so a caller cannot tell a user name that exists from one that does not.
    private const string WrongCredentials = "The user name, password or authenticator code is not right.";

    public async Task<SignedIn> LoginAsync(string userName, string password, string totpCode, CancellationToken ct)
    {
        RequireEmbedded();
        // A name no account can have is a wrong credential like any other (and is never sent to the database).
        if (!Identifiers.IsValidScreeningId(userName)) throw Unauthenticated(WrongCredentials);
        var user = await users.FindByNameAsync(userName);
        if (user is null || !user.Active) throw Unauthenticated(WrongCredentials);
        if (await users.IsLockedOutAsync(user))
            throw new TrialRuleException(RefusalReason.AccountLocked, $"This account is locked after repeated failed sign-ins until {(await users.GetLockoutEndDateAsync(user))!.Value.UtcDateTime:u}. Try again then, or ask an administrator.");

        var passwordOk = await users.CheckPasswordAsync(user, password);
        var secondFactorOk = !passwordOk || !user.TwoFactorEnabled ||
            (!string.IsNullOrEmpty(totpCode) && await users.VerifyTwoFactorTokenAsync(user, users.Options.Tokens.AuthenticatorTokenProvider, totpCode));
        if (!passwordOk || !secondFactorOk)
        {
            await db.InTransactionAsync(async t =>
            {
                await users.AccessFailedAsync(user);
                if (await users.IsLockedOutAsync(user))
                    await audit.AppendAsync(new AuditActor(user.UserName!, user.Role), AuditActions.LockedOut, user.UserName!, t,
                        details: "locked after repeated failed sign-ins");
                return 0;
            }, ct);
            LogFailedSignIn(logger, user.UserName!);
            throw Unauthenticated(passwordOk && user.TwoFactorEnabled && string.IsNullOrEmpty(totpCode)
                ? "This account needs the code from your authenticator app (totp_code)." : WrongCredentials);
        }

        return await db.InTransactionAsync(async t =>
        {
            await users.ResetAccessFailedCountAsync(user);
            var (tokens, record) = issuer.Issue(user);
            db.RefreshTokens.Add(record);
            await audit.AppendAsync(new AuditActor(user.UserName!, user.Role), AuditActions.SignedIn, user.UserName!, t);
            return new SignedIn(tokens, user.Role, user.SiteList);
        }, ct);
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
        if (await users.IsLockedOutAsync(user))
            throw new TrialRuleException(RefusalReason.AccountLocked, $"This account is locked after repeated failed sign-ins until {(await users.GetLockoutEndDateAsync(user))!.Value.UtcDateTime:u}. Try again then, or ask an administrator.");
        var passwordOk = await users.CheckPasswordAsync(user, password ?? "");
        var secondFactorOk = !passwordOk || !user.TwoFactorEnabled ||
            (!string.IsNullOrEmpty(totpCode) && await users.VerifyTwoFactorTokenAsync(user, users.Options.Tokens.AuthenticatorTokenProvider, totpCode));
        if (!passwordOk || !secondFactorOk)
        {
            await db.InTransactionAsync(async t =>
            {
                await users.AccessFailedAsync(user);
                var locked = await users.IsLockedOutAsync(user);
                await audit.AppendAsync(AuditActor.From(caller), AuditActions.ReauthenticationFailed, user.UserName!, t,
                    details: $"to sign {SignedActions.Words(signed)} of {recordId}" + (locked ? "; account locked after repeated failures" : ""));
                if (locked)
                    await audit.AppendAsync(AuditActor.From(caller), AuditActions.LockedOut, user.UserName!, t,
                        details: "locked after repeated failed sign-ins");
                return 0;
            }, ct);
            LogFailedReauthentication(logger, user.UserName!);
            throw Unauthenticated(passwordOk && user.TwoFactorEnabled && string.IsNullOrEmpty(totpCode)
                ? "Signing needs the code from your authenticator app too (totp_code)."
                : "Your password or authenticator code is not right; nothing was signed. Repeated failures lock the account.");
        }
        var proof = Base64Url(RandomNumberGenerator.GetBytes(32));
        var now = clock.GetUtcNow();
        var issued = SigningProof.Issue(Application.Signatures.ElectronicSigning.HashOf(proof), user.UserName!, signed, recordId, now);
        await db.InTransactionAsync(async t =>
        {
            await users.ResetAccessFailedCountAsync(user);
            db.SigningProofs.Add(issued);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.Reauthenticated, user.UserName!, t,
                details: $"to sign {SignedActions.Words(signed)} of {recordId}");
            return 0;
        }, ct);
        return (proof, issued.ExpiresAt);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Trades a refresh token for new tokens. Each refresh token works once; reusing one revokes them all.</summary>
    public async Task<SignedIn> RefreshAsync(string refreshToken, CancellationToken ct)
    {
        RequireEmbedded();
        var hash = TokenIssuer.HashOf(refreshToken ?? "");
        var now = clock.GetUtcNow();
        var outcome = await db.InTransactionAsync<SignedIn?>(async t =>
        {
            var record = await db.RefreshTokens.SingleOrDefaultAsync(r => r.TokenHash == hash, t);
            if (record is null) return null;
            var user = await db.Users.SingleAsync(u => u.Id == record.UserId, t);
            if (record.RevokedAt is not null)
            {
                // A used token presented again: someone holds a copy. Sign the user out everywhere.
                await db.RefreshTokens.Where(r => r.UserId == record.UserId && r.RevokedAt == null)
                    .ExecuteUpdateAsync(u => u.SetProperty(r => r.RevokedAt, now), t);
                await audit.AppendAsync(new AuditActor(user.UserName!, user.Role), AuditActions.RefreshTokenReused, user.UserName!, t,
                    details: "all refresh tokens revoked");
                return null;
            }
            if (record.ExpiresAt <= now || !user.Active) return null;
            record.RevokedAt = now;
            var (tokens, next) = issuer.Issue(user);
            db.RefreshTokens.Add(next);
            return new SignedIn(tokens, user.Role, user.SiteList);
        }, ct);
        return outcome ?? throw new TrialRuleException(RefusalReason.RefreshTokenInvalid, "The refresh token is not valid any more. Sign in again.");
    }

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
            if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(record.SecretHash), Encoding.ASCII.GetBytes(TokenIssuer.HashOf(secret ?? ""))))
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

    public async Task ConfirmTotpEnrollmentAsync(Caller caller, string code, CancellationToken ct)
    {
        RequireEmbedded();
        var user = await CurrentAsync(caller);
        if (!await users.VerifyTwoFactorTokenAsync(user, users.Options.Tokens.AuthenticatorTokenProvider, code ?? ""))
            throw new TrialRuleException(RefusalReason.AuthenticatorCodeInvalid, "The authenticator code is not right; check the device's clock and try the next code.",
                [new FieldViolation("code", "the authenticator code is not right")]);
        await db.InTransactionAsync(async t =>
        {
            await users.SetTwoFactorEnabledAsync(user, true);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.SecondFactorEnabled, user.UserName!, t);
            return 0;
        }, ct);
    }

    public async Task ChangePasswordAsync(Caller caller, string currentPassword, string newPassword, CancellationToken ct)
    {
        RequireEmbedded();
        var user = await CurrentAsync(caller);
        await db.InTransactionAsync(async t =>
        {
            var result = await users.ChangePasswordAsync(user, currentPassword ?? "", newPassword ?? "");
            if (result.Errors.Any(e => e.Code == nameof(IdentityErrorDescriber.PasswordMismatch))) throw Unauthenticated("The current password is not right.");
            UserAdministration.ThrowOnFailure(result);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.PasswordChanged, user.UserName!, t);
            return 0;
        }, ct);
    }

    private async Task<TrialUser> CurrentAsync(Caller caller) =>
        await users.FindByNameAsync(caller.Subject) ?? throw new TrialRuleException(RefusalReason.UserNotFound, "Your account is not in this service's user store.");

    private void RequireEmbedded()
    {
        if (tokenOptions.Value.Mode != IdentityMode.Embedded)
            throw new TrialRuleException(RefusalReason.ExternalIdentityProvider, "This service takes its users from an external identity provider; sign in there.");
    }

    private static TrialRuleException Unauthenticated(string message) => new(RefusalReason.CredentialsInvalid, message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Failed re-authentication to sign for {UserName}")]
    private static partial void LogFailedReauthentication(ILogger logger, string userName);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Failed sign-in for {UserName}")]
    private static partial void LogFailedSignIn(ILogger logger, string userName);
}
