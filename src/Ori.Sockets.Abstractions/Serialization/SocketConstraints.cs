using System.ComponentModel;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Ori.Sockets.Serialization;

/// <summary>
/// The data-annotation checks generated validators call, with one wording everywhere. Each records
/// a failure under the member (its JSON name) of the current path when the value breaks the rule.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public static class SocketConstraints
{
    /// <summary>A missing member.</summary>
    /// <param name="validation">The failures.</param>
    /// <param name="member">The member's JSON name.</param>
    public static void Missing(SocketValidationContext validation, string member)
    {
        ArgumentNullException.ThrowIfNull(validation);
        validation.AddError(member, "Is required.");
    }

    /// <summary><c>[Required]</c> on a string: not null and, unless empty strings are allowed, not empty.</summary>
    /// <param name="value">The value.</param>
    /// <param name="allowEmpty">Whether an empty string passes.</param>
    /// <param name="validation">The failures.</param>
    /// <param name="member">The member's JSON name.</param>
    public static void RequiredText(string? value, bool allowEmpty, SocketValidationContext validation, string member)
    {
        ArgumentNullException.ThrowIfNull(validation);
        if (value is null || (!allowEmpty && string.IsNullOrWhiteSpace(value)))
        {
            validation.AddError(member, "Is required.");
        }
    }

    /// <summary><c>[StringLength]</c>, <c>[MinLength]</c> and <c>[MaxLength]</c> on a string.</summary>
    /// <param name="value">The value; null passes (nullability is checked apart).</param>
    /// <param name="min">The fewest characters.</param>
    /// <param name="max">The most characters.</param>
    /// <param name="validation">The failures.</param>
    /// <param name="member">The member's JSON name.</param>
    public static void Length(string? value, int min, int max, SocketValidationContext validation, string member)
    {
        ArgumentNullException.ThrowIfNull(validation);
        if (value is not null && (value.Length < min || value.Length > max))
        {
            validation.AddError(member, max == int.MaxValue
                ? $"Must be at least {min} characters long."
                : min == 0 ? $"Must be at most {max} characters long." : $"Must be {min} to {max} characters long.");
        }
    }

    /// <summary><c>[MinLength]</c> and <c>[MaxLength]</c> on a collection.</summary>
    /// <param name="count">The number of elements, or -1 for null (passes).</param>
    /// <param name="min">The fewest elements.</param>
    /// <param name="max">The most elements.</param>
    /// <param name="validation">The failures.</param>
    /// <param name="member">The member's JSON name.</param>
    public static void Count(int count, int min, int max, SocketValidationContext validation, string member)
    {
        ArgumentNullException.ThrowIfNull(validation);
        if (count >= 0 && (count < min || count > max))
        {
            validation.AddError(member, max == int.MaxValue
                ? $"Must have at least {min} items."
                : min == 0 ? $"Must have at most {max} items." : $"Must have {min} to {max} items.");
        }
    }

    /// <summary><c>[Range]</c> on a number.</summary>
    /// <param name="value">The value, or null (passes).</param>
    /// <param name="min">The lower bound.</param>
    /// <param name="max">The upper bound.</param>
    /// <param name="minExclusive">Whether the lower bound itself fails.</param>
    /// <param name="maxExclusive">Whether the upper bound itself fails.</param>
    /// <param name="validation">The failures.</param>
    /// <param name="member">The member's JSON name.</param>
    public static void Range(double? value, double min, double max, bool minExclusive, bool maxExclusive, SocketValidationContext validation, string member)
    {
        ArgumentNullException.ThrowIfNull(validation);
        if (value is not { } v)
        {
            return;
        }

        var tooLow = minExclusive ? v <= min : v < min;
        var tooHigh = maxExclusive ? v >= max : v > max;
        if (tooLow || tooHigh)
        {
            validation.AddError(member, string.Create(CultureInfo.InvariantCulture, $"Must be between {min} {(minExclusive ? "(exclusive)" : string.Empty)} and {max}{(maxExclusive ? " (exclusive)" : string.Empty)}.").Replace("  ", " ", StringComparison.Ordinal));
        }
    }

    /// <summary><c>[AllowedValues]</c> on a string.</summary>
    /// <param name="value">The value, or null (passes unless null is allowed explicitly).</param>
    /// <param name="allowed">The allowed values.</param>
    /// <param name="validation">The failures.</param>
    /// <param name="member">The member's JSON name.</param>
    public static void Allowed(string? value, string?[] allowed, SocketValidationContext validation, string member)
    {
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(allowed);
        if (value is not null && System.Array.IndexOf(allowed, value) < 0)
        {
            validation.AddError(member, "Must be one of " + string.Join(", ", allowed.Select(a => $"'{a}'")) + ".");
        }
    }

    /// <summary><c>[AllowedValues]</c> on a number or other value type.</summary>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="value">The value, or null (passes).</param>
    /// <param name="allowed">The allowed values.</param>
    /// <param name="validation">The failures.</param>
    /// <param name="member">The member's JSON name.</param>
    public static void Allowed<T>(T? value, T[] allowed, SocketValidationContext validation, string member) where T : struct
    {
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(allowed);
        if (value is { } v && System.Array.IndexOf(allowed, v) < 0)
        {
            validation.AddError(member, "Must be one of " + string.Join(", ", allowed.Select(a => string.Format(CultureInfo.InvariantCulture, "{0}", a))) + ".");
        }
    }

    /// <summary><c>[RegularExpression]</c> on a string: the whole value must match.</summary>
    /// <param name="value">The value, or null (passes).</param>
    /// <param name="pattern">The compiled pattern.</param>
    /// <param name="validation">The failures.</param>
    /// <param name="member">The member's JSON name.</param>
    public static void Pattern(string? value, Regex pattern, SocketValidationContext validation, string member)
    {
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(pattern);
        if (value is null)
        {
            return;
        }

        // As DataAnnotations does: the first match must cover the whole value.
        var match = pattern.Match(value);
        if (!match.Success || match.Index != 0 || match.Length != value.Length)
        {
            validation.AddError(member, $"Must match the pattern {pattern}.");
        }
    }
}
