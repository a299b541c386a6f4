using Cratus.Randomization.Server.Persistence;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Identity;

/// <summary>
/// The password rules beyond length (12 characters, set in SecurityExtensions; no composition rules, NIST SP
/// 800-63B): not the user name, and none of the last five passwords of the account (the current one and the four
/// before it, kept hashed in PasswordHistory).
/// </summary>
public sealed class PasswordPolicy(TrialDbContext db) : IPasswordValidator<TrialUser>
{
    public const int RememberedPasswords = 5;

    public async Task<IdentityResult> ValidateAsync(UserManager<TrialUser> manager, TrialUser user, string? password)
    {
        if (string.IsNullOrEmpty(password)) return IdentityResult.Success;
        if (string.Equals(password.Trim(), user.UserName, StringComparison.OrdinalIgnoreCase))
            return IdentityResult.Failed(new IdentityError { Code = "PasswordIsUserName", Description = "The password must not be the user name." });
        var earlier = await db.PasswordHistory.AsNoTracking().Where(h => h.UserId == user.Id)
            .OrderByDescending(h => h.Id).Take(RememberedPasswords - 1).Select(h => h.PasswordHash).ToListAsync();
        if (user.PasswordHash is { } current) earlier.Add(current);
        if (earlier.Any(hash => manager.PasswordHasher.VerifyHashedPassword(user, hash, password) != PasswordVerificationResult.Failed))
            return IdentityResult.Failed(new IdentityError { Code = "PasswordReused", Description = $"The password must not be one of the last {RememberedPasswords} passwords of this account." });
        return IdentityResult.Success;
    }
}
