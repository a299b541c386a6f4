using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Security;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Identity;

public sealed record UserView(string UserName, string FullName, TrialRole Role, IReadOnlyList<string> Sites, bool Active, bool SecondFactorEnabled, DateTimeOffset? LockedOutUntil);

public sealed record SiteView(string Code, string Name, bool Active);

/// <summary>
/// What administrators do: personal accounts (one role each, sites for site roles; never shared, never deleted)
/// and sites. Administrators never see an arm: nothing here reads the schedule's arms.
/// </summary>
public sealed class UserAdministration(TrialDbContext db, UserManager<TrialUser> users, AuditTrail audit, AccountCheck accountCheck, TimeProvider clock)
{
    public async Task<(UserView User, string InitialPassword)> CreateUserAsync(
        Caller caller, string userName, string fullName, TrialRole role, IReadOnlyList<string> sites, string reason, CancellationToken ct)
    {
        RequireUserName(userName);
        fullName = RequireFullName(fullName);
        Reasons.Require(reason);
        if (!TrialRoles.IsPersonRole(role))
            throw TrialRuleException.Invalid("role", "A site system is not a person: register it as a site system (RegisterSiteSystem), which gives it client credentials.");
        await RequireSitesFitRoleAsync(role, sites, ct);
        var password = NewInitialPassword();
        // A one-time password: no token is issued until the user has chosen their own at the sign-in page.
        var user = new TrialUser { UserName = userName, FullName = fullName, Role = TrialRoles.ClaimValue(role), Sites = string.Join(',', sites.Distinct()), MustChangePassword = true };
        await db.InTransactionAsync(async t =>
        {
            if (await users.FindByNameAsync(userName) is not null || await db.SiteSystems.AnyAsync(c => c.ClientId == userName, t))
                throw new TrialRuleException(RefusalReason.UserExists, $"The name {userName} is taken (by a person or a site system). Accounts are personal and never reused.");
            ThrowOnFailure(await users.CreateAsync(user, password));
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.UserCreated, userName, t, reason: reason.Trim(),
                details: $"full name {user.FullName}; role {user.Role}; sites {user.Sites}");
            return 0;
        }, ct);
        return (View(user), password);
    }

    public async Task<IReadOnlyList<UserView>> ListUsersAsync(CancellationToken ct) =>
        (await db.Users.AsNoTracking().OrderBy(u => u.UserName).ToListAsync(ct)).Select(View).ToList();

    /// <summary>Closes or reopens an account, and/or replaces its sites. The account's tokens carry its old state, so
    /// they are refused from then on (<see cref="AccountCheck"/>), and refreshing gives tokens of the new state.</summary>
    public async Task<UserView> UpdateUserAsync(Caller caller, string userName, bool? active, IReadOnlyList<string>? sites, string reason, CancellationToken ct,
        string? fullName = null)
    {
        Reasons.Require(reason);
        if (active is null && sites is null && fullName is null)
            throw new TrialRuleException(RefusalReason.RequestInvalid, "Say what to change: active, sites, full name, or several.",
                [new FieldViolation("active", "set active, replace_sites, full_name or several"), new FieldViolation("replace_sites", "set active, replace_sites, full_name or several")]);
        if (fullName is not null) fullName = RequireFullName(fullName);
        if (active == false && userName == caller.Subject)
            throw new TrialRuleException(RefusalReason.OwnAccount, "You cannot close your own account; ask another administrator.");
        return await db.InTransactionAsync(async t =>
        {
            var user = await users.FindByNameAsync(userName) ?? throw new TrialRuleException(RefusalReason.UserNotFound, $"No user named {userName}.");
            var role = RoleOf(user);
            var changes = new List<string>();
            if (sites is not null)
            {
                await RequireSitesFitRoleAsync(role, sites, t);
                user.Sites = string.Join(',', sites.Distinct());
                changes.Add($"sites {user.Sites}");
            }
            if (fullName is not null)
            {
                user.FullName = fullName;
                changes.Add($"full name {fullName}");
            }
            if (active is { } isActive)
            {
                user.Active = isActive;
                changes.Add(isActive ? "reopened" : "closed");
            }
            ThrowOnFailure(await users.UpdateAsync(user));
            // Its tokens stop working at once here, and on every other node within the account check interval.
            db.AfterCommit(() => accountCheck.Forget(userName));
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.UserUpdated, userName, t, reason: reason.Trim(), details: string.Join("; ", changes));
            return View(user);
        }, ct);
    }

    /// <summary>Gives an account a new one-time password (shown once to the administrator, to hand over), which the
    /// person must replace at their next sign-in: no token is issued until they have. The old password stops working
    /// at once and joins the password history.</summary>
    public async Task<(UserView User, string InitialPassword)> ResetPasswordAsync(Caller caller, string userName, string reason, CancellationToken ct)
    {
        Reasons.Require(reason);
        if (userName == caller.Subject)
            throw new TrialRuleException(RefusalReason.OwnAccount, "You cannot reset your own password here; change it on the sign-in page, or ask another administrator.");
        var password = NewInitialPassword();
        return await db.InTransactionAsync(async t =>
        {
            var user = await users.FindByNameAsync(userName) ?? throw new TrialRuleException(RefusalReason.UserNotFound, $"No user named {userName}.");
            var oldHash = user.PasswordHash;
            ThrowOnFailure(await users.RemovePasswordAsync(user));
            ThrowOnFailure(await users.AddPasswordAsync(user, password));
            if (oldHash is not null) db.PasswordHistory.Add(new PasswordHistoryRecord { UserId = user.Id, PasswordHash = oldHash, ChangedAt = clock.GetUtcNow() });
            user.MustChangePassword = true;
            ThrowOnFailure(await users.UpdateAsync(user));
            db.AfterCommit(() => accountCheck.Forget(userName));
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.PasswordReset, userName, t, reason: reason.Trim(), details: "one-time password issued");
            return (View(user), password);
        }, ct);
    }

    public async Task<SiteView> CreateSiteAsync(Caller caller, string code, string name, string reason, CancellationToken ct)
    {
        if (!Identifiers.IsValidCode(code)) throw TrialRuleException.Invalid("code", "A site code is 1-16 letters, digits, '-' or '_'.");
        if (string.IsNullOrWhiteSpace(name) || name.Length > 200 || name.Any(char.IsControl)) throw TrialRuleException.Invalid("name", "A site name (1-200 characters, no control characters) is required.");
        Reasons.Require(reason);
        return await db.InTransactionAsync(async t =>
        {
            if (await db.Schedules.AnyAsync(t))
                throw new TrialRuleException(RefusalReason.StrataFixed,
                    "The schedule is in place and its strata are fixed, so no site can be added. A new site needs a schedule amendment by the trial statistician.");
            if (await db.Sites.AnyAsync(s => s.Code == code, t))
                throw new TrialRuleException(RefusalReason.SiteExists, $"Site {code} exists already.");
            var site = new SiteRecord { Code = code, Name = name.Trim() };
            db.Sites.Add(site);
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.SiteCreated, code, t, site: code, reason: reason.Trim(), details: site.Name);
            return new SiteView(site.Code, site.Name, site.Active);
        }, ct);
    }

    public async Task<IReadOnlyList<SiteView>> ListSitesAsync(CancellationToken ct) =>
        await db.Sites.AsNoTracking().OrderBy(s => s.Code).Select(s => new SiteView(s.Code, s.Name, s.Active)).ToListAsync(ct);

    /// <summary>Closes a site to enrolment, or reopens it. Its participants stay as they are.</summary>
    public async Task<SiteView> SetSiteActiveAsync(Caller caller, string code, bool active, string reason, CancellationToken ct)
    {
        Reasons.Require(reason);
        return await db.InTransactionAsync(async t =>
        {
            var site = await db.Sites.SingleOrDefaultAsync(s => s.Code == code, t) ?? throw new TrialRuleException(RefusalReason.SiteNotFound, $"No site {code}.");
            site.Active = active;
            await audit.AppendAsync(AuditActor.From(caller), AuditActions.SiteUpdated, code, t, site: code, reason: reason.Trim(),
                details: active ? "open to enrolment" : "closed to enrolment");
            return new SiteView(site.Code, site.Name, site.Active);
        }, ct);
    }

    private async Task RequireSitesFitRoleAsync(TrialRole role, IReadOnlyList<string> sites, CancellationToken ct)
    {
        if (TrialRoles.IsSiteRole(role) && sites.Count == 0)
            throw TrialRuleException.Invalid("sites", "A site coordinator or investigator needs at least one site.");
        if (!TrialRoles.IsSiteRole(role) && sites.Count > 0)
            throw TrialRuleException.Invalid("sites", "Only site coordinators and investigators serve sites.");
        var known = await db.Sites.Select(s => s.Code).ToListAsync(ct);
        var unknown = sites.Where(s => !known.Contains(s)).ToList();
        if (unknown.Count > 0) throw TrialRuleException.Invalid("sites", $"Unknown sites: {string.Join(", ", unknown)}.");
    }

    internal static void RequireUserName(string userName)
    {
        if (!Identifiers.IsValidScreeningId(userName))
            throw TrialRuleException.Invalid("user_name", "A user name is 1-32 letters, digits, '-' or '_'.");
    }


    /// <summary>The person's full name, as printed in their electronic signatures: 1-200 characters, no control characters.</summary>
    internal static string RequireFullName(string? fullName) =>
        !string.IsNullOrWhiteSpace(fullName) && fullName.Trim().Length <= 200 && !fullName.Any(char.IsControl)
            ? fullName.Trim()
            : throw TrialRuleException.Invalid("full_name", "The person's full name (1-200 characters) is required: it is printed in every electronic signature they make.");

    internal static void ThrowOnFailure(IdentityResult result)
    {
        if (!result.Succeeded)
            throw new TrialRuleException(RefusalReason.RequestInvalid, string.Join(" ", result.Errors.Select(e => e.Description)),
                [.. result.Errors.Select(e => new FieldViolation(e.Code.Contains("Password", StringComparison.Ordinal) ? "password" : "user_name", e.Description))]);
    }

    /// <summary>A random first password (given once to the administrator, to hand to the user, who changes it).</summary>
    private static string NewInitialPassword() =>
        "Ct-" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(15)).Replace('+', 'x').Replace('/', 'y') + "-9a";

    private static TrialRole RoleOf(TrialUser u) =>
        TrialRoles.TryParse(u.Role, out var role) ? role : throw new InvalidOperationException($"user {u.UserName} has an unknown role");

    private UserView View(TrialUser u)
    {
        var role = RoleOf(u);
        // ASP.NET Core Identity judges lockouts by the system clock, not an injected one; report them the same way.
        var lockedUntil = u.LockoutEnd is { } end && end > TimeProvider.System.GetUtcNow() ? end : (DateTimeOffset?)null;
        return new UserView(u.UserName!, u.FullName, role, u.SiteList, u.Active, u.TwoFactorEnabled, lockedUntil);
    }
}
