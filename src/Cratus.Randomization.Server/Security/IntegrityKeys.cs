using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Security;

/// <summary>
/// MAC keys derived from the sealing key ring (<see cref="EncryptionOptions"/>), one per purpose and ring key, with
/// HKDF-SHA256 (RFC 5869; the ring key as input keying material, no salt, the purpose as info). An AES key is never
/// used as a MAC key itself, and a key derived for one purpose is useless for another. Derived once per key and
/// purpose, then cached: a check costs one HMAC.
/// </summary>
public sealed class IntegrityKeys(IOptions<EncryptionOptions> options)
{
    /// <summary>Binds allocations, schedule entries and cohort enrolments to their rows.</summary>
    public const string AllocationPurpose = "cratus allocation seal v1";

    /// <summary>Keys the audit chain.</summary>
    public const string AuditPurpose = "cratus audit chain v1";

    private readonly ConcurrentDictionary<(string Purpose, string KeyId), byte[]?> _derived = new();

    public string ActiveKeyId => options.Value.ActiveKeyId;

    /// <summary>The key of <paramref name="purpose"/> derived from ring key <paramref name="keyId"/>; null when the
    /// ring holds no such key.</summary>
    public byte[]? Find(string purpose, string keyId) => _derived.GetOrAdd((purpose, keyId), k =>
        options.Value.Keys.TryGetValue(k.KeyId, out var ringKey)
            ? HKDF.DeriveKey(HashAlgorithmName.SHA256, Convert.FromBase64String(ringKey), 32, [], Encoding.UTF8.GetBytes(k.Purpose))
            : null);

    public byte[] Active(string purpose) => Find(purpose, ActiveKeyId)
        ?? throw new CryptographicException($"encryption key '{ActiveKeyId}' is not configured");
}
