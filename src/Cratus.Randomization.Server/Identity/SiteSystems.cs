using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using Permissions = OpenIddict.Abstractions.OpenIddictConstants.Permissions;
using ClientTypes = OpenIddict.Abstractions.OpenIddictConstants.ClientTypes;

namespace Cratus.Randomization.Server.Identity;

public sealed record SiteSystemView(
    string ClientId, string DisplayName, IReadOnlyList<string> Sites, DateTimeOffset RegisteredAt, string RegisteredBy,
    DateTimeOffset SecretIssuedAt, DateTimeOffset? RevokedAt, string? RevokedBy);

/// <summary>A site system and its client secret, which is shown this once and kept only hashed.</summary>
public sealed record SiteSystemCredentials(SiteSystemView SiteSystem, string ClientSecret);

/// <summary>
/// Site systems (a site's EDC or IWRS): OpenID Connect clients of the built-in server that sign in with client
/// credentials and act in the site-system role at their sites, under every site-scoping rule a person at that site is
/// under. The secret is drawn here, shown once, and handed to the OpenID Connect server, which stores only its hash;
/// rotating draws a new one and revokes the tokens issued under the old one; revoking removes the client (its tokens
/// with it) and keeps the record.
/// </summary>
public sealed class SiteSystems(
    TrialDbContext db, IOpenIddictApplicationManager applications, IOpenIddictTokenManager tokens, UserManager<TrialUser> users,
    AuditTrail audit, TimeProvider clock, AccountCheck accountCheck)
{
    public async Task<SiteSystemCredentials> RegisterAsync(Caller caller, string clientId, string displayName, IReadOnlyList<string> sites, string reason, CancellationToken ct)
    {
        if (!Identifiers.IsValidScreeningId(clientId ?? ""))
            throw TrialRuleException.Invalid("client_id", "A client id is 1-32 letters, digits, '-' or '_' (for example edc-um).");
        if (string.IsNullOrWhiteSpace(displayName) || displayName.Length > 200 || displayName.Any(char.IsControl))
            throw TrialRuleException.Invalid("display_name", "A display name (1-200 characters, no control characters) is required, e.g. the system's product and site.");
        reason = Reasons.Require(reason);
        if (sites.Count == 0) throw TrialRuleException.Invalid("sites", "A site system serves at least one site.");
        var secret = NewSecret();
        var now = clock.GetUtcNow();
        var record = new SiteSystemRecord
        {
            ClientId = clientId!, DisplayName = displayName.Trim(), Sites = string.Join(',', sites.Distinct()),
            RegisteredAt = now, RegisteredBy = caller.Subject, SecretIssuedAt = now,
        };
        await db.InTransactionAsync(async t =>
        {
            var known = await db.Sites.Select(s => s.Code).ToListAsync(t);
            var unknown = sites.Where(s => !known.Contains(s)).ToList();
            if (unknown.Count > 0) throw TrialRuleException.Invalid("sites", $"Unknown sites: {string.Join(", ", unknown)}.");
            // One namespace for people and systems, so the audit trail never names two of them alike.
            if (await db.SiteSystems.AnyAsync(c => c.ClientId == clientId, t) || await applications.FindByClientIdAsync(clientId!, t) is not null
                || await users.FindByNameAsync(clientId!) is not null)
                throw new TrialRuleException(RefusalReason.SiteSystemExists, $"The client id {clientId} is taken (by a site system or a person); client ids are never reused.");
            db.SiteSystems.Add(record);
            await applications.CreateAsync(Descriptor(record, secret), t);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.SiteSystemRegistered, record.ClientId, t, reason: reason,
                details: $"{record.DisplayName}; sites {record.Sites}");
            return 0;
        }, ct);
        return new SiteSystemCredentials(View(record), secret);
    }

    /// <summary>Draws a new secret; the old one stops working at once and the tokens issued under it are revoked.</summary>
    public async Task<SiteSystemCredentials> RotateSecretAsync(Caller caller, string clientId, string reason, CancellationToken ct)
    {
        reason = Reasons.Require(reason);
        var secret = NewSecret();
        var view = await db.InTransactionAsync(async t =>
        {
            var record = await ActiveAsync(clientId, t);
            var application = await applications.FindByClientIdAsync(record.ClientId, t)
                ?? throw new InvalidOperationException($"site system {record.ClientId} has no OpenID Connect client");
            await applications.UpdateAsync(application, Descriptor(record, secret), t);
            await tokens.RevokeByApplicationIdAsync((await applications.GetIdAsync(application, t))!, t);
            record.SecretIssuedAt = clock.GetUtcNow();
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.SiteSystemSecretRotated, record.ClientId, t, reason: reason);
            return View(record);
        }, ct);
        accountCheck.Forget(clientId);
        return new SiteSystemCredentials(view, secret);
    }

    /// <summary>Revokes a site system for good: its client and every token issued to it are removed; the record stays.</summary>
    public async Task<SiteSystemView> RevokeAsync(Caller caller, string clientId, string reason, CancellationToken ct)
    {
        reason = Reasons.Require(reason);
        var view = await db.InTransactionAsync(async t =>
        {
            var record = await ActiveAsync(clientId, t);
            if (await applications.FindByClientIdAsync(record.ClientId, t) is { } application)
            {
                await tokens.RevokeByApplicationIdAsync((await applications.GetIdAsync(application, t))!, t);
                await applications.DeleteAsync(application, t);
            }
            record.RevokedAt = clock.GetUtcNow();
            record.RevokedBy = caller.Subject;
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.SiteSystemRevoked, record.ClientId, t, reason: reason);
            return View(record);
        }, ct);
        accountCheck.Forget(clientId);
        return view;
    }

    public async Task<IReadOnlyList<SiteSystemView>> ListAsync(CancellationToken ct) =>
        (await db.SiteSystems.AsNoTracking().OrderBy(c => c.ClientId).ToListAsync(ct)).Select(View).ToList();

    private async Task<SiteSystemRecord> ActiveAsync(string clientId, CancellationToken ct)
    {
        var record = await db.SiteSystems.SingleOrDefaultAsync(c => c.ClientId == clientId, ct)
            ?? throw new TrialRuleException(RefusalReason.SiteSystemNotFound, $"No site system has the client id {clientId}.");
        if (record.RevokedAt is not null)
            throw new TrialRuleException(RefusalReason.SiteSystemRevoked, $"The site system {clientId} was revoked on {record.RevokedAt:u}; register a new one.");
        return record;
    }

    /// <summary>A confidential client that may only use the client-credentials grant (and introspect and revoke its own tokens).</summary>
    private static OpenIddictApplicationDescriptor Descriptor(SiteSystemRecord record, string secret) => new()
    {
        ClientId = record.ClientId,
        ClientSecret = secret,
        ClientType = ClientTypes.Confidential,
        DisplayName = record.DisplayName,
        Permissions =
        {
            Permissions.Endpoints.Token, Permissions.Endpoints.Introspection, Permissions.Endpoints.Revocation,
            Permissions.GrantTypes.ClientCredentials, Permissions.Prefixes.Scope + OpenIdServer.ApiScope,
        },
    };

    /// <summary>256 random bits, base64url: the client secret.</summary>
    private static string NewSecret() => WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    private static SiteSystemView View(SiteSystemRecord r) =>
        new(r.ClientId, r.DisplayName, r.SiteList, r.RegisteredAt, r.RegisteredBy, r.SecretIssuedAt, r.RevokedAt, r.RevokedBy);
}
