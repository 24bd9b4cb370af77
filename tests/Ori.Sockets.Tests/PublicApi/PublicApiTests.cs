using System.Reflection;
using System.Text;

using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.PublicApi;

/// <summary>
/// The public surface is a promise: it is listed in checked-in files, and any change to it shows up
/// here. Accept a deliberate change with ORI_ACCEPT_SNAPSHOTS=1 (the .received file is written on mismatch).
/// </summary>
public sealed class PublicApiTests
{
    [Theory]
    [InlineData("Ori.Sockets")]
    [InlineData("Ori.Sockets.Abstractions")]
    [InlineData("Ori.Sockets.Redis")]
    [InlineData("Ori.Sockets.Client")]
    [InlineData("Ori.Sockets.Testing")]
    public void Public_surface_matches_the_checked_in_listing(string assemblyName)
    {
        var assembly = assemblyName switch
        {
            "Ori.Sockets" => typeof(SocketHub).Assembly,
            "Ori.Sockets.Redis" => typeof(Ori.Sockets.Redis.RedisSocketEmitter).Assembly,
            "Ori.Sockets.Client" => typeof(Ori.Sockets.Client.OriSocketClient).Assembly,
            "Ori.Sockets.Testing" => typeof(Ori.Sockets.Testing.OriSocketsTestHost).Assembly,
            _ => typeof(SocketMessageAttribute).Assembly,
        };
        var actual = Describe(assembly);
        var directory = Path.Combine(TestEnvironment.RepositoryRoot, "tests", "Ori.Sockets.Tests", "PublicApi");
        var verified = Path.Combine(directory, $"{assemblyName}.verified.txt");
        var received = Path.Combine(directory, $"{assemblyName}.received.txt");
        var expected = File.Exists(verified) ? File.ReadAllText(verified) : string.Empty;
        if (expected == actual)
        {
            File.Delete(received);
            return;
        }

        if (Environment.GetEnvironmentVariable("ORI_ACCEPT_SNAPSHOTS") == "1")
        {
            File.WriteAllText(verified, actual);
            File.Delete(received);
            return;
        }

        File.WriteAllText(received, actual);
        Assert.Fail($"The public surface of {assemblyName} changed. Compare {received} with {verified}; accept with ORI_ACCEPT_SNAPSHOTS=1.");
    }

    private static string Describe(Assembly assembly)
    {
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes())
        {
            lines.Add($"{Kind(type)} {Name(type)}{BaseList(type)}");
            const BindingFlags Flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var member in type.GetMembers(Flags))
            {
                var line = Member(member);
                if (line is not null)
                {
                    lines.Add($"{Name(type)}.{line}");
                }
            }
        }

        lines.Sort(StringComparer.Ordinal);
        return string.Join('\n', lines) + '\n';
    }

    private static string? Member(MemberInfo member) => member switch
    {
        ConstructorInfo c => $".ctor({Parameters(c.GetParameters())})",
        MethodInfo m when !m.IsSpecialName => $"{(m.IsStatic ? "static " : string.Empty)}{m.Name}{GenericArguments(m)}({Parameters(m.GetParameters())}) -> {Name(m.ReturnType)}",
        MethodInfo m when m.Name.StartsWith("op_", StringComparison.Ordinal) => $"static {m.Name}({Parameters(m.GetParameters())}) -> {Name(m.ReturnType)}",
        PropertyInfo p => $"{(p.GetMethod?.IsStatic == true ? "static " : string.Empty)}{p.Name} : {Name(p.PropertyType)} {{{(p.GetMethod?.IsPublic == true ? " get;" : string.Empty)}{(p.SetMethod?.IsPublic == true ? " set;" : string.Empty)} }}",
        FieldInfo f when f.IsLiteral => $"const {f.Name} : {Name(f.FieldType)} = {f.GetRawConstantValue()}",
        FieldInfo f => $"{(f.IsStatic ? "static " : string.Empty)}{f.Name} : {Name(f.FieldType)}",
        EventInfo e => $"event {e.Name} : {Name(e.EventHandlerType!)}",
        _ => null,
    };

    private static string Kind(Type type) =>
        type.IsInterface ? "interface"
        : type.IsEnum ? "enum"
        : type.IsValueType ? "struct"
        : typeof(Delegate).IsAssignableFrom(type) ? "delegate"
        : type is { IsAbstract: true, IsSealed: true } ? "static class"
        : type.IsAbstract ? "abstract class"
        : type.IsSealed ? "sealed class"
        : "class";

    private static string BaseList(Type type)
    {
        var bases = new List<string>();
        if (type.BaseType is { } baseType && baseType != typeof(object) && baseType != typeof(ValueType) && baseType != typeof(Enum))
        {
            bases.Add(Name(baseType));
        }

        bases.AddRange(type.GetInterfaces().Where(i => i.IsPublic || i.IsNestedPublic).Select(Name).Order(StringComparer.Ordinal));
        return bases.Count == 0 ? string.Empty : " : " + string.Join(", ", bases);
    }

    private static string GenericArguments(MethodInfo method) =>
        method.IsGenericMethodDefinition ? "<" + string.Join(", ", method.GetGenericArguments().Select(a => a.Name)) + ">" : string.Empty;

    private static string Parameters(ParameterInfo[] parameters) =>
        string.Join(", ", parameters.Select(p =>
            $"{(p.IsOut ? "out " : p.ParameterType.IsByRef ? "ref " : string.Empty)}{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : string.Empty)}"));

    private static string Name(Type type)
    {
        if (type.IsByRef)
        {
            return Name(type.GetElementType()!);
        }

        if (type.IsGenericParameter)
        {
            return type.Name;
        }

        if (type.IsArray)
        {
            return Name(type.GetElementType()!) + "[]";
        }

        var name = type.IsNested ? Name(type.DeclaringType!) + "." + type.Name : type.Namespace + "." + type.Name;
        if (type.IsGenericType)
        {
            name = name[..name.IndexOf('`', StringComparison.Ordinal)] + "<" + string.Join(", ", type.GetGenericArguments().Select(Name)) + ">";
        }

        return name;
    }
}
